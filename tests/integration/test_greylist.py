#!/usr/bin/env python3
"""Greylisting (RFC 6647) at RCPT TO on port 25, against carterod with a 2-second delay:

  - an unknown (client /24, sender, recipient) triplet gets 451 4.7.1 "greylisted, try again in
    N seconds"; an early retry is refused again; a retry after the delay is accepted and the
    message delivered; the triplet then passes at once, also after a restart (queue.db);
  - the client's network is auto-whitelisted once a triplet passed (other senders pass);
  - not greylisted: domains without greylisting, disabled domains, the static whitelist
    (client network, sender domain), trusted networks;
  - carteroctl greylist enable/disable/list, whitelist add/remove/list, bad input refused.
Each test uses its own 127.0.N.0/24 source network, so their triplets never meet.
"""

import smtplib
import time

import harness
from harness import Carterod, StateDir

DOM, OPEN_DOM = "grey.example", "open.example"
RCPT, OPEN_RCPT = f"bob@{DOM}", f"bob@{OPEN_DOM}"


def attempt(d, source_ip, sender, rcpt, data=True):
    """One SMTP transaction from source_ip; returns (code, text) of RCPT, delivering on 250."""
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20, source_address=(source_ip, 0)) as s:
        s.ehlo("client.example")
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        if code == 250 and data:
            s.data(harness.make_message(sender=sender or "x@remote.example", to=rcpt))
        return code, text.decode()


class Greylist(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = StateDir(domains=(DOM, OPEN_DOM), mailboxes={RCPT: "pw", OPEN_RCPT: "pw"})
        cls.state.ctl("greylist", "enable", DOM, "--delay", "2")
        cls.d = Carterod(cls.state, kinds=("smtp",), trusted_networks=("127.0.9.0/24",))
        cls.daemons = [cls.d]
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.state.cleanup()

    def test_delay_then_pass_then_remembered_across_restart(self):
        ip = "127.0.1.10"
        code, text = attempt(self.d, ip, "alice@remote.example", RCPT)
        self.assertEqual(code, 451, text)
        self.assertIn("4.7.1", text)
        self.assertIn("greylisted, try again in 2 seconds", text)
        code, text = attempt(self.d, ip, "alice@remote.example", RCPT)  # too early
        self.assertEqual(code, 451, text)
        time.sleep(2.2)
        before = len(self.state.messages(RCPT))
        code, text = attempt(self.d, "127.0.1.77", "alice@remote.example", RCPT)  # same /24
        self.assertEqual(code, 250, text)
        self.state.wait_messages(RCPT, before + 1)
        self.assertEqual(attempt(self.d, ip, "alice@remote.example", RCPT, data=False)[0], 250)
        # Remembered in queue.db: a restarted carterod lets it through at once.
        self.d.restart()
        self.assertEqual(attempt(self.d, ip, "alice@remote.example", RCPT, data=False)[0], 250)
        self.assertIn('result="451 4.7.1 greylisted', self.d.log())

    def test_network_auto_whitelisted_after_a_pass(self):
        ip = "127.0.2.10"
        self.assertEqual(attempt(self.d, ip, "carol@remote.example", RCPT)[0], 451)
        time.sleep(2.2)
        self.assertEqual(attempt(self.d, ip, "carol@remote.example", RCPT)[0], 250)
        # Another sender from the same /24: no delay; from another /24: greylisted.
        self.assertEqual(attempt(self.d, "127.0.2.99", "dave@elsewhere.example", RCPT, data=False)[0], 250)
        self.assertEqual(attempt(self.d, "127.0.3.10", "dave@elsewhere.example", RCPT, data=False)[0], 451)

    def test_not_greylisted(self):
        # A domain without greylisting.
        self.assertEqual(attempt(self.d, "127.0.4.10", "erin@remote.example", OPEN_RCPT)[0], 250)
        # A trusted network.
        self.assertEqual(attempt(self.d, "127.0.9.10", "erin@remote.example", RCPT, data=False)[0], 250)
        # The static whitelist: a client network, then a sender domain (and its subdomains).
        self.state.ctl("greylist", "whitelist", "add", "127.0.5.0/24", "--note", "partner MX")
        self.state.ctl("greylist", "whitelist", "add", "friendly.example")
        time.sleep(1.5)  # carterod notices config.db changes within a second
        self.assertEqual(attempt(self.d, "127.0.5.10", "erin@remote.example", RCPT, data=False)[0], 250)
        self.assertEqual(attempt(self.d, "127.0.6.10", "x@mx.friendly.example", RCPT, data=False)[0], 250)
        self.assertEqual(attempt(self.d, "127.0.6.10", "x@unfriendly.example", RCPT, data=False)[0], 451)
        out = self.state.ctl("greylist", "whitelist", "list").stdout
        self.assertIn("network\t127.0.5.0/24\tpartner MX", out)
        self.assertIn("sender_domain\tfriendly.example", out)
        self.state.ctl("greylist", "whitelist", "remove", "127.0.5.0/24")
        self.state.ctl("greylist", "whitelist", "remove", "friendly.example")
        time.sleep(1.5)
        self.assertEqual(attempt(self.d, "127.0.5.10", "erin2@remote.example", RCPT, data=False)[0], 451)

    def test_disable_enable_and_refusals(self):
        st = self.state
        self.assertIn(f"{DOM}\ton\t2\t", st.ctl("greylist", "list").stdout)
        st.ctl("greylist", "disable", DOM)
        try:
            time.sleep(1.5)
            self.assertEqual(attempt(self.d, "127.0.7.10", "fay@remote.example", RCPT, data=False)[0], 250)
            self.assertIn(f"{DOM}\toff\t2\t", st.ctl("greylist", "list").stdout)
        finally:
            st.ctl("greylist", "enable", DOM)  # keeps the 2-second delay
        self.assertIn(f"{DOM}\ton\t2\t", st.ctl("greylist", "list").stdout)
        for bad in (["enable", DOM, "--delay", "0"], ["enable", DOM, "--delay", "999999"],
                    ["enable", "nosuch.example"], ["disable", "nosuch.example"],
                    ["whitelist", "add", "127.0.0.1/8"], ["whitelist", "add", "not a domain!"],
                    ["whitelist", "remove", "192.0.2.0/24"]):
            p = st.ctl("greylist", *bad, check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertTrue(p.stderr.strip(), bad)
        self.assertIn(f"{DOM}\ton\t2\t", st.ctl("greylist", "list").stdout)
        # carterod notices the re-enable within about a second: fresh triplets (each from its
        # own /24, so no auto-whitelist) are greylisted again before the next test starts.
        codes = []
        for i in range(10):
            codes.append(attempt(self.d, f"127.0.{80 + i}.10", f"gus{i}@remote.example", RCPT,
                                 data=False)[0])
            if codes[-1] == 451:
                break
            time.sleep(0.5)
        self.assertEqual(codes[-1], 451, codes)


if __name__ == "__main__":
    harness.main()
