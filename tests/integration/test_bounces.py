#!/usr/bin/env python3
"""bounces: RFC 3461 on the server side and in delivery (NOTIFY=NEVER → no DSN, ENVID in the
DSN), VERP return paths on submitted mail, and asynchronous DSNs sent back to them: accepted,
classified, the recipient suppressed, the bounce in `log search`, forged tokens refused; delay
DSNs (delay_warning_time) once per recipient as NOTIFY allows."""

import email
import email.policy
import re
import smtplib
import time

import harness
from harness import DOMAIN, StateDir, Carterod, SMTPClient
from smtp_sink import SmtpSink

SENDER = f"app@{DOMAIN}"


def submit(d, rcpts, msgid, mail_options=(), rcpt_options=()):
    msg = harness.make_message(f"<{msgid}>", sender=SENDER, to=rcpts[0])
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
        return s.sendmail(SENDER, rcpts, msg, mail_options=list(mail_options),
                          rcpt_options=list(rcpt_options))


def remote_dsn(verp: str, recipient: str, msgid: str) -> bytes:
    """A multipart/report as a remote MTA sends it some time after accepting the message."""
    boundary = "=_remote_report_1"
    return (f"From: Mail Delivery Subsystem <MAILER-DAEMON@mx.remote.example>\r\n"
            f"To: <{verp}>\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\n"
            f"Date: Mon, 23 Nov 2026 07:05:00 +0000\r\n"
            f"Message-ID: <report-{msgid}>\r\n"
            f"Auto-Submitted: auto-replied\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status;\r\n"
            f"\tboundary=\"{boundary}\"\r\n"
            f"\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: text/plain\r\n\r\n"
            f"The mailbox {recipient} does not exist.\r\n\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx.remote.example\r\n"
            f"Arrival-Date: Mon, 23 Nov 2026 07:00:01 +0000\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\n"
            f"Action: failed\r\n"
            f"Status: 5.1.1\r\n"
            f"Remote-MTA: dns; store.remote.example\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: user unknown\r\n\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: text/rfc822-headers\r\n\r\n"
            f"Return-Path: <{verp}>\r\n"
            f"From: <{SENDER}>\r\nTo: <{recipient}>\r\nMessage-ID: <{msgid}>\r\n\r\n"
            f"--{boundary}--\r\n").encode()


class Bounces(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = SmtpSink(host="127.0.0.1", rcpt_replies={
            "never@remote.example": "550 5.1.1 <never@remote.example>: Recipient address rejected: User unknown",
            "fail@remote.example": "550 5.1.1 <fail@remote.example>: Recipient address rejected: User unknown",
        }).start()
        cls.state = StateDir(mailboxes={SENDER: "pw-app"})
        cls.d = Carterod(cls.state, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                         relayhost=f"127.0.0.1:{cls.sink.port}")
        cls.daemons = [cls.d]
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.sink.stop()
        cls.state.cleanup()

    def dsns_for(self, msgid):
        out = []
        for raw in self.state.read_messages(SENDER):
            m = email.message_from_bytes(raw, policy=email.policy.compat32)
            if m.get_content_type() == "multipart/report" and msgid in m.as_string():
                out.append(m)
        return out

    def test_notify_never_means_no_dsn(self):
        self.assertEqual(submit(self.d, ["never@remote.example"], "b1@it.example",
                                rcpt_options=["NOTIFY=NEVER"]), {})
        harness.wait_until(lambda: "bounced" in self.state.ctl("log", "search", "never@remote.example").stdout,
                           20, what="the NOTIFY=NEVER recipient bounced")
        time.sleep(1.5)
        self.assertEqual(self.dsns_for("b1@it.example"), [], "a DSN despite NOTIFY=NEVER")
        # Settled all the same: nothing left in the queue for it.
        harness.wait_until(lambda: "b1@it.example" not in self.state.queue_describe()
                           and "never@remote.example" not in self.state.ctl("queue", "list").stdout,
                           10, what="the message gone from the queue")

    def test_notify_failure_and_envid_in_the_dsn(self):
        self.assertEqual(submit(self.d, ["fail@remote.example"], "b2@it.example",
                                mail_options=["ENVID=abc", "RET=HDRS"],
                                rcpt_options=["NOTIFY=FAILURE,DELAY",
                                              "ORCPT=rfc822;Fail+2Bx@remote.example"]), {})
        harness.wait_until(lambda: len(self.dsns_for("b2@it.example")) >= 1, 20,
                           what="a DSN in the sender's mailbox")
        time.sleep(0.5)
        mine = self.dsns_for("b2@it.example")
        self.assertEqual(len(mine), 1, "exactly one DSN")
        status = [p for p in mine[0].walk() if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        text = status[0].as_string()
        self.assertIn("Original-Envelope-Id: abc", text)
        self.assertIn("Original-Recipient: rfc822; Fail+x@remote.example", text)
        self.assertIn("Final-Recipient: rfc822; fail@remote.example", text)
        self.assertIn("Action: failed", text)
        # RET=HDRS: headers only.
        types = [p.get_content_type() for p in mine[0].walk()]
        self.assertIn("text/rfc822-headers", types)
        # The sink (which offers DSN) got the parameters passed on.
        m = [x for x in self.sink.messages if b"b2@it.example" in x.data]
        self.assertEqual(m, [], "a refused recipient has no message at the sink")

    def test_verp_return_path_and_async_dsn(self):
        before = len(self.sink.messages)
        self.assertEqual(submit(self.d, ["gone@remote.example"], "b3@it.example"), {})
        msgs = self.sink.wait_messages(before + 1)
        m = [x for x in msgs if b"b3@it.example" in x.data][0]
        self.assertRegex(m.mail_from, r"^bounces\+[0-9a-z]+-[0-9]+-[0-9a-z]{10}@" + re.escape(DOMAIN) + "$")
        verp = m.mail_from
        harness.wait_until(lambda: "delivered" in self.state.ctl("log", "search", "gone@remote.example").stdout,
                           10, what="the delivery logged")
        # Later, the remote's store bounces it to the VERP address, with the null sender.
        c = SMTPClient(self.d.smtp)
        try:
            c.ehlo("mx.remote.example")
            code, text = c.send_mail("", [verp], remote_dsn(verp, "gone@remote.example", "b3@it.example"))
            self.assertEqual(code, 250, text)
            c.cmd("QUIT")
        finally:
            c.close()
        harness.wait_until(lambda: "gone@remote.example" in self.state.ctl("suppression", "list").stdout,
                           10, what="the recipient on the suppression list")
        out = self.state.ctl("log", "search", "gone@remote.example").stdout
        self.assertIn("bounced", out)
        self.assertIn("5.1.1", out)
        # Forwarded to the original sender (a local mailbox), as it came.
        harness.wait_until(lambda: any("mx.remote.example" in x.as_string()
                                       for x in self.dsns_for("b3@it.example")), 10,
                           what="the report forwarded to the sender")
        # Suppressed: a new message to it is refused at RCPT.
        def refused():
            try:
                submit(self.d, ["gone@remote.example"], "b4@it.example")
            except smtplib.SMTPRecipientsRefused as e:
                return e.recipients["gone@remote.example"][0] == 550
            return False
        harness.wait_until(refused, 10, what="RCPT to the suppressed address refused")

    def test_forged_verp_token_refused(self):
        c = SMTPClient(self.d.smtp)
        try:
            c.ehlo("mx.remote.example")
            c.expect("MAIL FROM:<>", 250)
            c.expect(f"RCPT TO:<bounces+0123456789abcdef-1-aaaaaaaaaa@{DOMAIN}>", 550, "5.1.1")
            c.expect(f"RCPT TO:<bounces+junk@{DOMAIN}>", 550, "5.1.1")
            c.cmd("QUIT")
        finally:
            c.close()

    def test_dsn_parameters_on_the_wire(self):
        c = SMTPClient(self.d.smtp)
        try:
            lines = c.ehlo("client.example")
            c.expect("MAIL FROM:<a@remote.example> RET=SOME", 501, "5.5.4")
            c.expect("MAIL FROM:<a@remote.example> ENVID=x ENVID=y", 501, "5.5.4")
            c.expect("MAIL FROM:<a@remote.example> RET=FULL ENVID=q+2B1", 250)
            c.expect(f"RCPT TO:<{SENDER}> NOTIFY=NEVER,DELAY", 501, "5.5.4")
            c.expect(f"RCPT TO:<{SENDER}> NOTIFY=SUCCESS ORCPT=rfc822;{SENDER}", 250)
            c.cmd("QUIT")
        finally:
            c.close()
        self.assertIn("DSN", str(lines))


class DelayDsn(harness.CarteroTestCase):
    """delay_warning_time: a recipient still deferred that long after arrival gets one RFC 3464
    "delayed" DSN, when NOTIFY is absent or has DELAY; not with NOTIFY=NEVER or a list without
    DELAY; never a second one."""

    def test_delay_dsn_once_per_recipient_as_notify_allows(self):
        # Every attempt takes > 1 s (slow banner) and ends in 451: the first deferral is
        # already older than delay_warning_time = 1s.
        sink = SmtpSink(host="127.0.0.1", banner_delay=1.3, rcpt_replies={
            f"late{i}@remote.example": "451 4.3.0 Mailbox busy, try later" for i in range(1, 5)}).start()
        self.addCleanup(sink.stop)
        st = StateDir(mailboxes={SENDER: "pw-app"}, config={"delay_warning_time": "1s"})
        self.addCleanup(st.cleanup)
        d = self.watch(Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                                relayhost=f"127.0.0.1:{sink.port}"))
        self.addCleanup(d.stop)
        d.start()
        c = SMTPClient(d.smtp)
        try:
            c.ehlo("client.example")
            c.expect(f"MAIL FROM:<{SENDER}> ENVID=delay1", 250)
            c.expect("RCPT TO:<late1@remote.example>", 250)                      # no NOTIFY: warned
            c.expect("RCPT TO:<late2@remote.example> NOTIFY=FAILURE", 250)       # no DELAY: not
            c.expect("RCPT TO:<late3@remote.example> NOTIFY=NEVER", 250)         # never
            c.expect("RCPT TO:<late4@remote.example> NOTIFY=DELAY,FAILURE", 250)  # warned
            c.expect("DATA", 354)
            c.send(harness.dot_stuff(harness.make_message("<d1@it.example>", sender=SENDER,
                                                          to="late1@remote.example")) + b".\r\n")
            self.assertEqual(c.reply()[0], 250)
            c.cmd("QUIT")
        finally:
            c.close()

        def reports():
            out = []
            for raw in st.read_messages(SENDER):
                m = email.message_from_bytes(raw, policy=email.policy.compat32)
                if m.get_content_type() == "multipart/report" and "d1@it.example" in m.as_string():
                    out.append(m)
            return out
        harness.wait_until(lambda: reports(), 20, what="a delay DSN in the sender's mailbox")
        # Another attempt (deferred again): no second warning.
        qid = [m["id"] for m in __import__("json").loads(st.ctl("queue", "list", "--json").stdout)["messages"]][0]
        conns = sink.connections
        st.ctl("queue", "retry", qid)
        harness.wait_until(lambda: sink.connections > conns and
                           st.ctl("log", "search", "late1@remote.example").stdout.count("deferred") >= 2,
                           20, what="a second deferral")
        time.sleep(1.0)
        mine = reports()
        self.assertEqual(len(mine), 1, "exactly one delay DSN")
        dsn = mine[0]
        self.assertIn("Delay", dsn["Subject"])
        status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        text = status[0].as_string()
        self.assertIn("Original-Envelope-Id: delay1", text)
        self.assertIn("Final-Recipient: rfc822; late1@remote.example", text)
        self.assertIn("Final-Recipient: rfc822; late4@remote.example", text)
        self.assertNotIn("late2@remote.example", text)
        self.assertNotIn("late3@remote.example", text)
        self.assertEqual(text.count("Action: delayed"), 2, text)
        self.assertNotIn("Action: failed", text)
        self.assertIn("Status: 4.3.0", text)
        self.assertIn("Will-Retry-Until:", text)
        # Still queued: a warning is not a bounce.
        self.assertIn("late1@remote.example", st.ctl("queue", "list").stdout)


if __name__ == "__main__":
    harness.main()
