#!/usr/bin/python3
"""local_delivery: forwarders (fan-out, multi-level, loops, catch-all, remote destinations),
quota (552 5.2.2 / 452 4.2.2, maildirsize), config.db changes noticed while running, SIGHUP,
postmaster setting, SIGTERM."""

import os
import signal
import time
import uuid

import harness
from harness import DOMAIN, OTHER_DOMAIN, SMTPClient, make_message


def a(local, domain=DOMAIN):
    return f"{local}@{domain}"


def mid():
    return f"<{uuid.uuid4().hex}@it.example>"


class LocalDelivery(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = harness.StateDir(
            domains=(DOMAIN, OTHER_DOMAIN),
            mailboxes={a("alice"): "pw", a("bob"): "pw", a("carol"): "pw",
                       a("dan", OTHER_DOMAIN): "pw", a("pm"): "pw",
                       a("small"): ("pw", "10K"), a("tiny"): ("pw", "10K"), a("big"): ("pw", "2G")})
        s = cls.state
        s.add_forwarder(a("team"), a("alice"), a("bob"))
        s.add_forwarder(a("all"), a("team"), a("carol"), a("alice"))
        s.add_forwarder(a("ext"), a("carol"), "someone@remote.example")
        s.add_forwarder(a("lvl1"), a("lvl2"))
        s.add_forwarder(a("lvl2"), a("lvl3"))
        s.add_forwarder(a("lvl3"), a("bob"))
        s.add_forwarder("@" + OTHER_DOMAIN, a("carol"))
        cls.loop_created = (s.add_forwarder(a("loopa"), a("loopb"), check=False).returncode == 0 and
                            s.add_forwarder(a("loopb"), a("loopa"), check=False).returncode == 0)
        cls.d = harness.Carterod(s, kinds=("smtp",), relayhost=f"127.0.0.1:{harness.free_port()}")
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

    def client(self):
        c = SMTPClient(self.d.smtp, timeout=20)
        self.addCleanup(c.close)
        c.ehlo()
        return c

    def deliver(self, rcpts, msgid, size=0, expect=250):
        c = self.client()
        code, text = c.send_mail("sender@remote.example", rcpts, make_message(msgid, size=size))
        self.assertEqual(code, expect, f"message to {rcpts}: {code} {text!r}")
        return code, text

    def copies(self, address, msgid, n=1, timeout=10):
        if n:
            self.state.wait_msgid(address, msgid, timeout)
        time.sleep(0.3)
        got = self.state.with_msgid(address, msgid)
        self.assertEqual(len(got), n, f"{address}: expected {n} cop{'y' if n == 1 else 'ies'} of {msgid}, found {len(got)}")
        return got

    # --------------------------------------------------------------------------- forwarders
    def test_forwarder_to_two_mailboxes(self):
        m = mid()
        self.deliver([a("team")], m)
        for box in ("alice", "bob"):
            got = self.copies(a(box), m)[0]
            self.assertIn(f"Delivered-To: {a(box)}".encode().lower(), got.lower(),
                          f"Delivered-To of the copy for {box}")

    def test_multi_level_forwarder_and_dedup(self):
        m = mid()
        self.deliver([a("all")], m)  # all -> team(alice, bob), carol, alice
        for box in ("alice", "bob", "carol"):
            self.copies(a(box), m, 1)
        m = mid()
        self.deliver([a("lvl1")], m)  # lvl1 -> lvl2 -> lvl3 -> bob
        self.copies(a("bob"), m, 1)
        m = mid()
        self.deliver([a("team"), a("alice")], m)  # alice twice in one envelope
        self.copies(a("alice"), m, 1)

    def test_forwarder_loop_is_an_error_not_a_hang(self):
        if not self.loop_created:
            self.skipTest("carteroctl refused to create the loop loopa -> loopb -> loopa (acceptable)")
        c = self.client()
        c.expect("MAIL FROM:<sender@remote.example>", 250)
        t0 = time.monotonic()
        code, text = c.cmd(f"RCPT TO:<{a('loopa')}>")
        took = time.monotonic() - t0
        self.assertGreaterEqual(code, 500, f"RCPT to a forwarder loop must fail permanently: {code} {text!r}")
        self.assertLess(took, 5, f"RCPT to a forwarder loop took {took:.1f}s")
        c.expect("NOOP", 250)

    def test_catch_all(self):
        m = mid()
        self.deliver([a("anything", OTHER_DOMAIN)], m)
        self.copies(a("carol"), m)
        m = mid()
        self.deliver([a("dan", OTHER_DOMAIN)], m)  # a real mailbox wins over the catch-all
        self.copies(a("dan", OTHER_DOMAIN), m)
        self.copies(a("carol"), m, 0)
        c = self.client()
        c.expect("MAIL FROM:<x@remote.example>", 250)
        code, text = c.cmd(f"RCPT TO:<nosuch@{DOMAIN}>")  # no catch-all on the first domain
        self.assertEqual((code, text[:5]), (550, "5.1.1"), f"{code} {text!r}")

    def test_forwarder_with_remote_destination(self):
        before = self.state.queue_snapshot()
        m = mid()
        self.deliver([a("ext")], m)
        self.copies(a("carol"), m)
        harness.wait_until(lambda: self.state.queue_snapshot() != before, 5,
                           what="the remote destination someone@remote.example in the queue")

    def test_forwarder_list_and_remove(self):
        p = self.state.ctl("forwarder", "list", DOMAIN)
        self.assertIn(a("team"), p.stdout, f"forwarder list: {p.stdout!r}")
        p = self.state.ctl("forwarder", "add", a("alice"), a("bob"), check=False)
        self.assertNotEqual(p.returncode, 0, "a forwarder may not shadow a mailbox")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, f"one line on stderr: {p.stderr!r}")

    # --------------------------------------------------------------------------- quota
    def test_quota_single_recipient_552(self):
        c = self.client()
        code, text = c.send_mail("sender@remote.example", [a("small")], make_message(mid(), size=20000))
        self.assertEqual((code, text[:5]), (552, "5.2.2"),
                         f"20K message to a 10K mailbox: expected 552 5.2.2, got {code} {text!r}")
        self.assertEqual(self.state.messages(a("small")), [])
        c.expect("NOOP", 250)

    def test_quota_size_at_mail_452(self):
        c = self.client()
        c.expect("MAIL FROM:<sender@remote.example> SIZE=20000", 250)
        code, text = c.cmd(f"RCPT TO:<{a('small')}>")
        self.assertEqual((code, text[:5]), (452, "4.2.2"),
                         f"SIZE=20000 then RCPT to a 10K mailbox: expected 452 4.2.2, got {code} {text!r}")
        c.expect(f"RCPT TO:<{a('alice')}>", 250)

    def test_quota_two_recipients_one_over(self):
        m = mid()
        self.deliver([a("tiny"), a("alice")], m, size=20000)
        self.copies(a("alice"), m)
        self.copies(a("tiny"), m, 0)

    def test_quota_maildirsize(self):
        m = mid()
        self.deliver([a("big")], m, size=3000)
        self.copies(a("big"), m)
        path = os.path.join(self.state.maildir(a("big")), "maildirsize")
        self.assertTrue(os.path.exists(path), "maildirsize missing after a delivery")
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertIn(f"{2 * 1024 ** 3}S", lines[0].strip().split(","),
                      f"maildirsize quota line for --quota 2G: {lines[0]!r}")
        total = sum(int(l.split()[0]) for l in lines[1:] if l.strip())
        count = sum(int(l.split()[1]) for l in lines[1:] if l.strip())
        size = sum(os.path.getsize(p) for p in self.state.messages(a("big")))
        self.assertEqual((total, count), (size, 1), f"maildirsize sums {lines[1:]} vs files on disk")

    def test_quota_full_mailbox_452_at_rcpt(self):
        # fill the mailbox as Dovecot would (an IMAP APPEND updates maildirsize) and check that
        # carterod reads maildirsize at RCPT
        addr = a("full")
        self.state.add_mailbox(addr, "pw", "10K")
        harness.wait_until(lambda: self._rcpt(addr)[0] == 250, 10, interval=0.3,
                           what=f"{addr} accepted after `mailbox add`")
        m = mid()
        self.deliver([addr], m, size=1000)
        self.copies(addr, m)
        md = self.state.maildir(addr)
        with open(os.path.join(md, "new", "1700000000.M1P1.filler"), "wb") as f:
            f.write(b"Subject: filler\n\n" + b"x" * 11000)
        with open(os.path.join(md, "maildirsize"), "a") as f:
            f.write("11017 1\n")
        code, text = self._rcpt(addr)
        self.assertEqual((code, text[:5]), (452, "4.2.2"),
                         f"RCPT to a mailbox whose maildirsize says it is full: {code} {text!r}")

    def _rcpt(self, addr):
        c = SMTPClient(self.d.smtp, timeout=20)
        try:
            c.ehlo()
            c.expect("MAIL FROM:<x@remote.example>", 250)
            return c.cmd(f"RCPT TO:<{addr}>")
        finally:
            c.close()

    # --------------------------------------------------------------------------- live changes
    def test_new_mailbox_accepted_while_running(self):
        addr = a("late" + uuid.uuid4().hex[:6])

        def rcpt_code():  # a fresh session per probe (refused RCPTs may count as bad commands)
            c = SMTPClient(self.d.smtp, timeout=20)
            try:
                c.ehlo()
                c.expect("MAIL FROM:<x@remote.example>", 250)
                return c.cmd(f"RCPT TO:<{addr}>")
            finally:
                c.close()
        code, text = rcpt_code()
        self.assertEqual((code, text[:5]), (550, "5.1.1"), f"before `mailbox add`: {code} {text!r}")
        self.state.add_mailbox(addr, "pw")
        harness.wait_until(lambda: rcpt_code()[0] == 250, 10, interval=0.3,
                           what=f"RCPT {addr} accepted after `mailbox add` (config.db change noticed)")
        m = mid()
        self.deliver([addr], m)
        self.copies(addr, m)
        self.state.ctl("mailbox", "remove", addr)
        harness.wait_until(lambda: rcpt_code()[0] == 550, 10, interval=0.3,
                           what=f"RCPT {addr} refused after `mailbox remove`")

    def test_postmaster_setting(self):
        self.state.ctl("setting", "set", "postmaster", a("pm"))
        m = mid()

        def sent():
            c = SMTPClient(self.d.smtp, timeout=20)
            try:
                c.ehlo()
                return c.send_mail("x@remote.example", ["Postmaster"], make_message(m))[0] == 250
            finally:
                c.close()
        self.assertTrue(sent())
        # the setting is picked up within seconds; the first message may have gone to holding
        try:
            self.copies(a("pm"), m, 1, timeout=3)
        except AssertionError:
            time.sleep(2)
            m = mid()
            self.assertTrue(sent())
            self.copies(a("pm"), m, 1, timeout=10)

    def test_sighup_keeps_serving(self):
        c = self.client()  # a session open across the reload
        self.d.signal(signal.SIGHUP)
        time.sleep(1)
        self.assertTrue(self.d.running(), "carterod died on SIGHUP")
        c.expect("NOOP", 250)
        m = mid()
        self.deliver([a("alice")], m)
        self.copies(a("alice"), m)
        code, text = c.send_mail("x@remote.example", [a("bob")], make_message(m))
        self.assertEqual(code, 250, "session opened before SIGHUP still works")
        # SIGHUP re-reads carterod.conf: a lower max_recipients applies to new sessions
        self.state.set_config({"max_recipients": 3})
        try:
            self.d.signal(signal.SIGHUP)

            def fourth_rcpt():
                c2 = SMTPClient(self.d.smtp, timeout=20)
                try:
                    c2.ehlo()
                    c2.expect("MAIL FROM:<x@remote.example>", 250)
                    for box in ("alice", "bob", "carol"):
                        c2.expect(f"RCPT TO:<{a(box)}>", 250)
                    return c2.cmd(f"RCPT TO:<{a('big')}>")
                finally:
                    c2.close()
            harness.wait_until(lambda: fourth_rcpt()[0] == 452, 5, interval=0.3,
                               what="max_recipients = 3 in effect after SIGHUP (4th RCPT -> 452)")
        finally:
            self.state.set_config({"max_recipients": 100})
            self.d.signal(signal.SIGHUP)
            time.sleep(0.5)


class Shutdown(harness.CarteroTestCase):
    def test_sigterm_clean_exit(self):
        state = harness.StateDir(mailboxes={a("alice"): "pw"})
        self.addCleanup(state.cleanup)
        d = self.watch(harness.Carterod(state, kinds=("smtp",)))
        self.addCleanup(d.kill)
        d.start()
        c = SMTPClient(d.smtp)
        self.addCleanup(c.close)
        c.ehlo()
        m = mid()
        self.assertEqual(c.send_mail("x@remote.example", [a("alice")], make_message(m))[0], 250)
        rc = d.stop(timeout=20)
        self.assertEqual(rc, 0, f"carterod exit status after SIGTERM: {rc}")
        self.assertFalse(harness.port_open(d.smtp), "port still open after exit")
        # the accepted message is delivered (before exit, or after a restart)
        if not state.with_msgid(a("alice"), m):
            d.start()
            state.wait_msgid(a("alice"), m, 10)
        self.assertEqual(len(state.with_msgid(a("alice"), m)), 1)


class ShutdownMidData(harness.CarteroTestCase):
    def test_sigterm_during_data(self):
        """SIGTERM while a client is in DATA: the session is finished (250, then delivered)
        or refused (421 / closed, then not delivered) — never a 250 that is lost."""
        state = harness.StateDir(mailboxes={a("alice"): "pw"})
        self.addCleanup(state.cleanup)
        d = self.watch(harness.Carterod(state, kinds=("smtp",)))
        self.addCleanup(d.kill)
        d.start()
        c = SMTPClient(d.smtp, timeout=30)
        self.addCleanup(c.close)
        c.ehlo()
        c.expect("MAIL FROM:<x@remote.example>", 250)
        c.expect(f"RCPT TO:<{a('alice')}>", 250)
        c.expect("DATA", 354)
        m = mid()
        msg = make_message(m, size=5000)
        c.send(msg[:2000])
        d.signal(signal.SIGTERM)
        time.sleep(0.5)
        try:
            c.send(msg[2000:] + b".\r\n")
            code, text = c.reply()
        except (OSError, ConnectionError):
            code, text = None, "connection closed"
        self.assertIn(code, (250, 421, None), f"end of data after SIGTERM: {code} {text!r}")
        try:
            d.proc.wait(30)
        except Exception:
            self.fail("carterod did not exit within 30 s of SIGTERM with a session in DATA")
        self.assertEqual(d.proc.returncode, 0, "exit status after SIGTERM")
        d.start()
        if code == 250:
            state.wait_msgid(a("alice"), m, 10)
            self.assertEqual(len(state.with_msgid(a("alice"), m)), 1)
        else:
            time.sleep(1.5)
            self.assertEqual(state.with_msgid(a("alice"), m), [],
                             f"reply was {code} {text!r} but the message was delivered")


if __name__ == "__main__":
    harness.main()
