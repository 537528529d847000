#!/usr/bin/env python3
"""Autoresponders (RFC 3834) end to end against carterod:

  - two Cartero mailboxes with autoresponders writing to each other get exactly one reply
    each, and none for the next round within the interval (no loop: replies go out with the
    null reverse-path and Auto-Submitted: auto-replied);
  - a remote sender's reply leaves through the outbound queue to an smtp_sink on loopback
    (the relayhost) with MAIL FROM:<>, DKIM-signed (dkimpy verifies with the key Knot serves),
    with From, To, Subject, Auto-Submitted, In-Reply-To and References as RFC 3834 asks;
  - the skip rules hold on the wire: null sender, Auto-Submitted, List-*, Precedence, system
    senders, Bcc (not in To/Cc), outside start..end — none of them gets a reply;
  - mail our own spam filter flags (a carteroctl header rule above the junk threshold) lands in
    the mailbox's .Junk and gets no reply, while a clean message from the next sender does;
  - carteroctl autoreply set/show/list/clear, and bad input leaves config.db unchanged.
"""

import email
import email.policy
import os
import smtplib
import time
import unittest

import harness
from harness import Carterod, StateDir
from smtp_sink import SmtpSink

try:
    import dkim  # python3-dkim (dkimpy)
    import nacl.signing  # noqa: F401
    from dnsserver import KnotServer, knot_available
except ImportError as e:  # pragma: no cover
    print(f"skipping: {e} (run under /usr/bin/python3 with python3-dkim installed)")
    raise SystemExit(77)

A_DOM, B_DOM = "alpha.example", "beta.example"
A, B, C = f"ann@{A_DOM}", f"ben@{B_DOM}", f"cat@{B_DOM}"
SEL = "ar1"


def send(d, sender, rcpt, headers="", subject="hello", msgid=None, to=None):
    msgid = msgid or f"<{time.time_ns()}@sender.example>"
    msg = (f"From: <{sender or 'mailer-daemon@remote.example'}>\r\nTo: <{to or rcpt}>\r\n"
           f"Subject: {subject}\r\nMessage-ID: {msgid}\r\n"
           f"Date: Mon, 23 Nov 2026 07:00:00 +0000\r\n{headers}\r\nhi\r\n").encode()
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
        s.sendmail(sender, [rcpt], msg)
    return msgid


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def autoreplies(state, address):
    return [m for m in map(parse, state.read_messages(address))
            if (m["Auto-Submitted"] or "").strip() == "auto-replied"]


class Autoreply(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        if not knot_available():
            raise unittest.SkipTest("Knot (knotd) is not installed")
        cls.sink = SmtpSink(host="127.0.0.1").start()
        cls.state = StateDir(domains=(A_DOM, B_DOM), mailboxes={A: "pw-a", B: "pw-b", C: "pw-c"})
        zones = {}
        for dom in (A_DOM, B_DOM):
            line = cls.state.ctl("dkim", "generate", dom, "--selector", SEL).stdout.strip()
            zones[dom] = line + "\n"
        cls.dns = KnotServer(zones)
        cls.dns.start()
        cls.state.set_config({"resolver": f"127.0.0.1:{cls.dns.port}"})
        for addr, subject in ((A, "Ann is away"), (B, ""), (C, "Cat is away")):
            args = ["autoreply", "set", addr, "--body", f"{addr} is on holiday.\nBack in May."]
            if subject:
                args += ["--subject", subject]
            cls.state.ctl(*args)
        # score 10: X-Spam-Flag: YES and Junk (junk threshold 6), not rejected (15)
        cls.state.ctl("spam", "rule", "add", "PILLS", "--header", "subject",
                      "--pattern", "(?i)miracle pills", "--score", "10")
        cls.d = Carterod(cls.state, kinds=("smtp",), relayhost=f"127.0.0.1:{cls.sink.port}")
        cls.daemons = [cls.d]
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.sink.stop()
        cls.dns.stop()
        cls.state.cleanup()

    def dnsfunc(self, name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        rdata = " ".join(self.dns.query(name.rstrip("."), "TXT"))
        return "".join(rdata.split('"')[1::2]).encode() or None

    def sink_replies_to(self, rcpt):
        return [m for m in self.sink.messages if rcpt in m.rcpts]

    def test_two_mailboxes_answer_each_other_once(self):
        judged = self.d.log().count("already replied within interval")
        send(self.d, A, B, subject="round 1 from ann")
        send(self.d, B, A, subject="round 1 from ben")
        harness.wait_until(lambda: len(autoreplies(self.state, A)) >= 1
                           and len(autoreplies(self.state, B)) >= 1, 20,
                           what="one autoreply in each mailbox")
        # Round 2 within the interval: the originals arrive, no new reply.
        send(self.d, A, B, subject="round 2 from ann")
        send(self.d, B, A, subject="round 2 from ben")
        harness.wait_until(lambda: len(self.state.messages(A)) >= 3 and len(self.state.messages(B)) >= 3,
                           20, what="round 2 delivered")
        harness.wait_until(lambda: self.d.log().count("already replied within interval") >= judged + 2, 10,
                           what="round 2 judged by the autoresponder")
        time.sleep(1.5)  # anything looping would have arrived by now
        for who, other in ((A, B), (B, A)):
            msgs = [parse(r) for r in self.state.read_messages(who)]
            replies = autoreplies(self.state, who)
            self.assertEqual(len(replies), 1, f"{who}: {[m['Subject'] for m in msgs]}")
            rounds = [m for m in msgs if (m["Subject"] or "").startswith("round")]
            self.assertEqual(len(rounds), 2, f"{who}: the two originals")
            self.assertEqual(replies[0]["Subject"], "Auto: round 1 from " + who.split("@")[0]
                             if who == A else "Ann is away")
            self.assertEqual(replies[0]["From"], f"<{other}>")
            self.assertEqual(replies[0]["Return-Path"], "<>")
        self.assertIn("already replied within interval", self.d.log())

    def test_remote_sender_gets_one_signed_reply(self):
        msgid = send(self.d, "friend@remote.example", B, subject="Lunch?",
                     headers="References: <older@remote.example>\r\n")
        msgs = harness.wait_until(lambda: self.sink_replies_to("friend@remote.example"), 20,
                                  what="the autoreply at the sink")
        m = msgs[0]
        self.assertEqual(m.mail_from, "", "RFC 3834 §3.3: the reply goes out with MAIL FROM:<>")
        self.assertEqual(m.rcpts, ["friend@remote.example"])
        self.assertTrue(m.data.startswith(b"DKIM-Signature:"), m.data[:200])
        self.assertTrue(dkim.verify(m.data, dnsfunc=self.dnsfunc), "dkimpy does not verify the reply")
        h = parse(m.data)
        self.assertEqual(h["Auto-Submitted"], "auto-replied")
        self.assertEqual(h["From"], f"<{B}>")
        self.assertEqual(h["To"], "<friend@remote.example>")
        self.assertEqual(h["Subject"], "Auto: Lunch?")
        self.assertEqual(h["In-Reply-To"], msgid)
        self.assertEqual(h["References"], f"<older@remote.example> {msgid}")
        self.assertIn(f"{B} is on holiday.", h.get_payload(decode=True).decode())
        # A second message from the same sender within the interval: no second reply.
        send(self.d, "friend@remote.example", B, subject="Lunch? (2)")
        harness.wait_until(lambda: self.d.log().count("already replied within interval") >= 1, 10,
                           what="the second message judged")
        time.sleep(1)
        self.assertEqual(len(self.sink_replies_to("friend@remote.example")), 1)

    def test_skip_rules_on_the_wire(self):
        cases = [
            ("", ""),                                                   # null sender
            ("s1@remote.example", "Auto-Submitted: auto-generated\r\n"),
            ("s2@remote.example", "List-Id: <dev.lists.remote.example>\r\n"),
            ("s3@remote.example", "List-Unsubscribe: <mailto:u@remote.example>\r\n"),
            ("s4@remote.example", "Precedence: bulk\r\n"),
            ("s5@remote.example", "Precedence: junk\r\n"),
            ("owner-dev@remote.example", ""),
            ("dev-request@remote.example", ""),
            ("MAILER-DAEMON@remote.example", ""),
        ]
        for sender, headers in cases:
            send(self.d, sender, C, headers=headers)
        send(self.d, "s6@remote.example", C, to="list@remote.example")  # Bcc: not in To/Cc
        # The control message is answered; the worker takes messages in order, so once its
        # reply exists every earlier one has been judged.
        send(self.d, "control@remote.example", C)
        harness.wait_until(lambda: self.sink_replies_to("control@remote.example"), 20,
                           what="the control message's reply")
        time.sleep(0.5)
        senders = [s for s, _ in cases] + ["s6@remote.example"]
        got = [s for s in senders if s and self.sink_replies_to(s.lower()) + self.sink_replies_to(s)]
        self.assertEqual(got, [], "replies that RFC 3834 forbids")
        log = self.d.log()
        # (The null sender is dropped before the worker, unlogged: it has no address to answer.)
        for reason in ("auto-submitted", "list mail", "precedence bulk/list/junk",
                       "system sender", "mailbox not in To/Cc"):
            self.assertIn(f'reason="{reason}"' if " " in reason else f"reason={reason}", log)

    def test_spam_flagged_by_our_filter_no_reply(self):
        spam_id = send(self.d, "spammer@remote.example", C, subject="Miracle pills for you")
        # Judged in order: once the clean message's reply is at the sink, the spam was judged.
        send(self.d, "clean@remote.example", C, subject="Tea on Friday?")
        harness.wait_until(lambda: self.sink_replies_to("clean@remote.example"), 20,
                           what="the clean message's reply")
        raw = self.state.wait_msgid(C, spam_id, folder=".Junk")[0]
        self.assertIn(b"X-Spam-Flag: YES", raw.split(b"\r\n\r\n", 1)[0])
        self.assertEqual(self.state.with_msgid(C, spam_id), [], "the spam is in INBOX too")
        time.sleep(0.5)
        self.assertEqual(len(self.sink_replies_to("clean@remote.example")), 1)
        self.assertEqual(self.sink_replies_to("spammer@remote.example"), [],
                         "a reply to mail our filter flagged as spam")
        self.assertRegex(self.d.log(), r"event=autoreply_skipped\b.*\bto=spammer@remote\.example\b"
                                       r".*\breason=spam\b")

    def test_outside_start_end_no_reply(self):
        self.state.add_mailbox(f"later@{B_DOM}", "pw-l")
        self.state.ctl("autoreply", "set", f"later@{B_DOM}", "--body", "later", "--start", "2099-01-01")
        time.sleep(1.5)  # carterod notices config.db changes within a second
        send(self.d, "early@remote.example", f"later@{B_DOM}")
        send(self.d, "control2@remote.example", C)
        harness.wait_until(lambda: self.sink_replies_to("control2@remote.example"), 20,
                           what="the control message's reply")
        time.sleep(0.5)
        self.assertEqual(self.sink_replies_to("early@remote.example"), [])
        self.assertIn("reason=inactive", self.d.log())

    def test_carteroctl_set_show_clear_and_refusals(self):
        st = self.state
        addr = f"ctl@{B_DOM}"
        st.add_mailbox(addr, "pw-ctl")
        body = os.path.join(st.tmp, "body.txt")
        with open(body, "w") as f:
            f.write("Ausser Haus bis Montag.\n")
        st.ctl("autoreply", "set", addr, "--subject", "Abwesend", "--body-file", body,
               "--start", "2026-01-01", "--end", "2026-12-31T18:00", "--interval", "3")
        out = st.ctl("autoreply", "show", addr).stdout
        self.assertIn("subject: Abwesend", out)
        self.assertIn("start: 2026-01-01T00:00:00Z", out)
        self.assertIn("end: 2026-12-31T18:00:00Z", out)
        self.assertIn("interval_days: 3", out)
        self.assertIn("Ausser Haus bis Montag.", out)
        self.assertIn(addr, st.ctl("autoreply", "list").stdout)
        for bad in (["--body", "x", "--start", "2026-12-01", "--end", "2026-01-01"],
                    ["--body", "x", "--interval", "0"],
                    ["--body", "x", "--start", "2026-02-30"],
                    ["--body", ""],
                    ["--body", "x", "--subject", "two\nlines"]):
            p = st.ctl("autoreply", "set", addr, *bad, check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertTrue(p.stderr.strip(), bad)
        self.assertEqual(st.ctl("autoreply", "show", addr).stdout, out, "a refused set changed it")
        p = st.ctl("autoreply", "set", f"ghost@{B_DOM}", "--body", "x", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("does not exist", p.stderr)
        st.ctl("autoreply", "clear", addr)
        self.assertNotEqual(st.ctl("autoreply", "show", addr, check=False).returncode, 0)
        self.assertNotEqual(st.ctl("autoreply", "clear", addr, check=False).returncode, 0)


if __name__ == "__main__":
    harness.main()
