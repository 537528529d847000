#!/usr/bin/python3
"""relay: no open relay on the smtp port (every classic trick refused), relay for trusted
networks and authenticated submission, and sender ownership for authenticated users."""

import time

import harness
from harness import DOMAIN, SMTPClient, make_message, ssl_client_context

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
SALES = f"sales@{DOMAIN}"  # forwarder -> alice

# (RCPT argument, why). Each names a remote mailbox one way or another.
TRICKS = [
    ("<user@remote.example>", "plain remote domain"),
    (f"<user%remote.example@{DOMAIN}>", "percent hack"),
    (f"<remote.example!user@{DOMAIN}>", "bang path"),
    (f"<@{DOMAIN}:user@remote.example>", "source route"),
    (f"<@{DOMAIN},@relay.example:user@remote.example>", "source route with two hops"),
    (f"<\"user@remote.example\"@{DOMAIN}>", "quoted local part with @"),
    (f"<\"user%remote.example\"@{DOMAIN}>", "quoted percent hack"),
    (f"<\"remote.example!user\"@{DOMAIN}>", "quoted bang path"),
    ("<user@remote.example.>", "trailing dot"),
    ("<user@[127.0.0.1]>", "IPv4 literal"),
    ("<user@[IPv6:::1]>", "IPv6 literal"),
    ("<user@remote.example@" + DOMAIN + ">", "two @"),
    (f"<user@remote.example%{DOMAIN}>", "percent in domain"),
]


class Relay(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = harness.StateDir(mailboxes={ALICE: "alice-pw", BOB: "bob-pw"})
        cls.state.add_forwarder(SALES, ALICE)
        cls.d = harness.Carterod(cls.state, relayhost=f"127.0.0.1:{harness.free_port()}")
        cls.daemons = [cls.d]
        try:
            cls.d.start()
        except Exception:
            cls.state.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()
        cls.state.cleanup()

    def smtp(self):
        c = SMTPClient(self.d.smtp)
        self.addCleanup(c.close)
        c.ehlo()
        return c

    def submission(self, user=ALICE, password="alice-pw"):
        c = SMTPClient(self.d.submission)
        self.addCleanup(c.close)
        c.ehlo()
        c.starttls()
        c.ehlo()
        code, text = c.auth_plain(user, password)
        self.assertEqual(code, 235, f"AUTH PLAIN {user}: {code} {text!r}")
        return c

    # ---------------------------------------------------------------------------------------
    def test_plain_remote_refused_550_571(self):
        c = self.smtp()
        c.expect("MAIL FROM:<someone@remote.example>", 250)
        code, text = c.cmd("RCPT TO:<user@remote.example>")
        self.assertEqual((code, text[:5]), (550, "5.7.1"),
                         f"relay to a remote domain from an untrusted client must be 550 5.7.1, got {code} {text!r}")
        # a local-looking sender gives no right to relay
        c.expect("RSET", 250)
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        code, text = c.cmd("RCPT TO:<user@remote.example>")
        self.assertEqual((code, text[:5]), (550, "5.7.1"), f"relay with a spoofed local sender: {code} {text!r}")

    def test_no_relay_tricks(self):
        before_q = self.state.queue_snapshot()
        before_m = self.state.all_mail_files()
        accepted = []
        for rcpt, why in TRICKS:
            c = self.smtp()
            c.expect("MAIL FROM:<someone@remote.example>", 250)
            code, text = c.cmd(f"RCPT TO:{rcpt}")
            if code < 400:
                accepted.append(f"{why}: RCPT TO:{rcpt} -> {code} {text}")
                c.expect("DATA", 354)
                c.send(make_message(subject=f"relay trick {why}") + b".\r\n")
                c.reply()
            elif code < 500:
                accepted.append(f"{why}: RCPT TO:{rcpt} -> temporary {code} {text} (relay refusal must be 5xx)")
            c.cmd("QUIT")
            c.close()
        self.assertEqual(accepted, [], "open relay tricks were not refused")
        time.sleep(1)
        self.assertEqual(self.state.queue_snapshot(), before_q, "the queue changed after refused relay attempts")
        self.assertEqual(self.state.all_mail_files(), before_m, "mail was delivered after refused relay attempts")

    def test_data_without_valid_rcpt_refused(self):
        c = self.smtp()
        c.expect("MAIL FROM:<someone@remote.example>", 250)
        c.cmd("RCPT TO:<user@remote.example>")
        code, text = c.cmd("DATA")
        self.assertGreaterEqual(code, 500, f"DATA with no accepted recipient: {code} {text!r}")
        c.expect("NOOP", 250)

    def test_relay_for_authenticated_submission(self):
        before = self.state.queue_snapshot()
        c = self.submission()
        c.expect(f"MAIL FROM:<{ALICE}>", 250)
        code, text = c.cmd("RCPT TO:<user@remote.example>")
        self.assertEqual(code, 250, f"authenticated relay to a remote domain: {code} {text!r}")
        c.expect("DATA", 354)
        c.send(make_message(sender=ALICE, to="user@remote.example") + b".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, f"authenticated relay, end of data: {code} {text!r}")
        harness.wait_until(lambda: self.state.queue_snapshot() != before, 5,
                           what="the relayed message in the queue (spool/queue.db)")

    def test_sender_ownership(self):
        c = self.submission()
        for sender, want in ((BOB, 553), ("someone@remote.example", 553), (ALICE, 250),
                             (f"alice@{DOMAIN.upper()}", 250), (SALES, 250)):
            code, text = c.cmd(f"MAIL FROM:<{sender}>")
            if want == 553:
                self.assertEqual((code, text[:5]), (553, "5.7.1"),
                                 f"alice sending as {sender} (not hers): expected 553 5.7.1, got {code} {text!r}")
            else:
                self.assertEqual(code, 250, f"alice sending as {sender} (hers): expected 250, got {code} {text!r}")
                c.expect("RSET", 250)
        # and the whole way through
        c.expect(f"MAIL FROM:<{SALES}>", 250)
        c.expect(f"RCPT TO:<{BOB}>", 250)
        c.expect("DATA", 354)
        c.send(make_message(sender=SALES, to=BOB, msgid="<ownership@it.example>") + b".\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.state.wait_msgid(BOB, "<ownership@it.example>")


class TrustedNetwork(harness.CarteroTestCase):
    def test_relay_allowed_for_trusted_network(self):
        state = harness.StateDir(mailboxes={ALICE: "alice-pw"})
        self.addCleanup(state.cleanup)
        d = self.watch(harness.Carterod(state, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                                        relayhost=f"127.0.0.1:{harness.free_port()}"))
        self.addCleanup(d.kill)
        d.start()
        before = state.queue_snapshot()
        c = SMTPClient(d.smtp)
        self.addCleanup(c.close)
        c.ehlo()
        c.expect("MAIL FROM:<app@remote.example>", 250)
        code, text = c.cmd("RCPT TO:<user@remote.example>")
        self.assertEqual(code, 250, f"relay from trusted 127.0.0.0/8: {code} {text!r}")
        c.expect("DATA", 354)
        c.send(make_message(to="user@remote.example") + b".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, f"relay from trusted network, end of data: {code} {text!r}")
        harness.wait_until(lambda: state.queue_snapshot() != before, 5,
                           what="the relayed message in the queue (spool/queue.db)")
        # the trusted network does not make relay tricks into local deliveries elsewhere
        c.expect("RSET", 250)
        c.expect("MAIL FROM:<app@remote.example>", 250)
        code, text = c.cmd(f"RCPT TO:<nosuchuser@{DOMAIN}>")
        self.assertEqual((code, text[:5]), (550, "5.1.1"), f"unknown local user from trusted net: {code} {text!r}")


if __name__ == "__main__":
    harness.main()
