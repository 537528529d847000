#!/usr/bin/env python3
"""outbound: carterod delivers to remote MXes played by scripted sinks on 127.0.0.x — through a
relayhost and through real MX lookups (Knot on loopback); DKIM verified by dkimpy; permanent
failures become one RFC 3464 DSN per message (parsed by Python's email package) and land on
the suppression list; temporary failures stay queued and go out on `queue retry`; the source
IP of the pool is bound and its PTR name said in EHLO."""

import email
import email.policy
import os
import smtplib
import subprocess
import sys
import time
import unittest

import harness
from harness import DOMAIN, StateDir, Carterod
from smtp_sink import SmtpSink

import dkim  # noqa: E402  (Debian's python3-dkim)

SENDER = f"app@{DOMAIN}"


def submit(d, rcpts, msgid, sender=SENDER, body="hello\r\n"):
    msg = harness.make_message(f"<{msgid}>", sender=sender, to=rcpts[0], body=body)
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
        return s.sendmail(sender, rcpts, msg)


def dkim_record(state):
    out = state.ctl("dkim", "record", DOMAIN, state.selector).stdout
    # 'sel._domainkey.dom. IN TXT ( "v=DKIM1; k=rsa; " "p=..." )' → the joined TXT value
    parts = out[out.index("(") + 1:out.rindex(")")].split('"')[1::2]
    return "".join(parts).encode()


class Relayhost(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = SmtpSink(host="127.0.0.1", rcpt_replies={
            "nobody@remote.example": "550 5.1.1 <nobody@remote.example>: Recipient address rejected: User unknown",
            "later@remote.example": "451 4.3.0 Temporary local problem, try again",
            "stuck@remote.example": "451 4.3.0 Temporary local problem, try again",
        }).start()
        cls.state = StateDir(mailboxes={SENDER: "pw-app"})
        cls.state.ctl("dkim", "generate", DOMAIN, "--selector", "it1")
        cls.state.selector = "it1"
        cls.d = Carterod(cls.state, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                         relayhost=f"127.0.0.1:{cls.sink.port}")
        cls.daemons = [cls.d]
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.sink.stop()
        cls.state.cleanup()

    def test_delivered_and_dkim_signed(self):
        before = len(self.sink.messages)
        self.assertEqual(submit(self.d, ["friend@remote.example"], "out1@it.example"), {})
        msgs = self.sink.wait_messages(before + 1)
        m = [x for x in msgs if b"out1@it.example" in x.data][0]
        # VERP (flow 4): a sender at a local domain leaves as bounces+TOKEN@that domain.
        self.assertTrue(m.mail_from.startswith("bounces+") and m.mail_from.endswith("@" + DOMAIN),
                        m.mail_from)
        self.assertEqual(m.rcpts, ["friend@remote.example"])
        self.assertTrue(m.data.startswith(b"DKIM-Signature:"), m.data[:200])
        record = dkim_record(self.state)
        ok = dkim.verify(m.data, dnsfunc=lambda name, timeout=5: record)
        self.assertTrue(ok, "dkimpy does not verify carterod's signature")
        # The delivery log has the remote reply.
        out = self.state.ctl("log", "search", "friend@remote.example").stdout
        self.assertIn("250 2.0.0 Ok: queued as SINK", out)

    def test_permanent_failure_bounces_once_and_suppresses(self):
        self.assertEqual(submit(self.d, ["nobody@remote.example", "friend2@remote.example"],
                                "out2@it.example"), {})
        # The good recipient is delivered; the DSN goes to the local sender's mailbox.
        harness.wait_until(lambda: len(self.state.messages(SENDER)) >= 1, 20, what="a DSN in the sender's mailbox")
        time.sleep(0.5)
        dsns = [email.message_from_bytes(r, policy=email.policy.compat32)
                for r in self.state.read_messages(SENDER)]
        mine = [x for x in dsns if "out2@it.example" in x.as_string()]
        self.assertEqual(len(mine), 1, "exactly one DSN for the message")
        dsn = mine[0]
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        self.assertEqual(dsn["Auto-Submitted"], "auto-replied")
        status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"]
        self.assertEqual(len(status), 1)
        text = status[0].as_string()
        self.assertIn("Final-Recipient: rfc822; nobody@remote.example", text)
        self.assertIn("Status: 5.1.1", text)
        self.assertIn("Action: failed", text)
        self.assertNotIn("friend2@remote.example", text)
        # Suppressed now: a new message to it is refused at RCPT, saying why.
        def refused():
            try:
                submit(self.d, ["nobody@remote.example"], "out3@it.example")
            except smtplib.SMTPRecipientsRefused as e:
                code, text = e.recipients["nobody@remote.example"]
                return code == 550 and b"suppress" in text
            return False
        harness.wait_until(refused, 10, what="RCPT to a suppressed address refused with 550 5.1.1")
        self.assertIn("nobody@remote.example", self.state.ctl("suppression", "list").stdout)

    def test_temporary_failure_stays_queued_then_retry(self):
        self.assertEqual(submit(self.d, ["later@remote.example"], "out4@it.example"), {})
        def deferred():
            return "deferred" in self.state.ctl("queue", "list").stdout
        harness.wait_until(deferred, 15, what="the recipient deferred in the queue")
        out = self.state.ctl("queue", "list").stdout
        self.assertIn("451 4.3.0", out)
        # The remote recovers; an admin retry delivers it now, not in 5 minutes.
        self.sink.rcpt_replies.pop("later@remote.example")
        import json
        listing = json.loads(self.state.ctl("queue", "list", "--json").stdout)
        qid = [m["id"] for m in listing["messages"]
               if any(r.get("address", r.get("recipient", "")) == "later@remote.example" or
                      "later@remote.example" in json.dumps(r) for r in m["recipients"])][0]
        self.state.ctl("queue", "retry", qid)
        self.sink.wait_messages(1)
        harness.wait_until(lambda: any(b"out4@it.example" in m.data for m in self.sink.messages), 15,
                           what="the retried message at the sink")


    def test_admin_bounce_sends_one_dsn(self):
        import json
        self.assertEqual(submit(self.d, ["stuck@remote.example"], "out5@it.example"), {})
        def queued_id():
            for m in json.loads(self.state.ctl("queue", "list", "--json").stdout)["messages"]:
                if "stuck@remote.example" in json.dumps(m) and "deferred" in json.dumps(m):
                    return m["id"]
            return None
        harness.wait_until(lambda: queued_id() is not None, 15, what="the message deferred")
        before = len(self.state.messages(SENDER))
        self.state.ctl("queue", "bounce", queued_id())
        harness.wait_until(lambda: len(self.state.messages(SENDER)) > before, 15,
                           what="the admin bounce's DSN in the sender's mailbox")
        texts = [r.decode("utf-8", "replace") for r in self.state.read_messages(SENDER)]
        mine = [t for t in texts if "out5@it.example" in t]
        self.assertEqual(len(mine), 1)
        self.assertIn("Bounced by the administrator", mine[0])
        self.assertIn("Final-Recipient: rfc822; stuck@remote.example", mine[0])
        # The message is gone from the queue once its DSN is queued.
        harness.wait_until(lambda: "out5" not in self.state.ctl("queue", "list", "--json").stdout
                           and queued_id() is None, 10, what="the bounced message removed")


class MxLookup(harness.CarteroTestCase):
    """Real MX resolution through Knot; the sinks listen on port 25 of 127.0.0.2/127.0.0.4
    (root only: skipped otherwise); the pool's IP 127.0.0.3 is the source with its PTR name."""

    def test_mx_order_fallback_source_ip_and_null_mx(self):
        if os.geteuid() != 0:
            self.skipTest("binding port 25 on 127.0.0.x needs root")
        from dnsserver import KnotServer
        down = SmtpSink(host="127.0.0.4", port=25, connection_replies=["421 4.3.2 Not now"] * 10).start()
        up = SmtpSink(host="127.0.0.2", port=25).start()
        self.addCleanup(up.stop)
        self.addCleanup(down.stop)
        zones = {"remote.example": (
            "@ 60 IN MX 10 mx-a.remote.example.\n@ 60 IN MX 20 mx-b.remote.example.\n"
            "mx-a 60 IN A 127.0.0.4\nmx-b 60 IN A 127.0.0.2\n"),
            "nullmx.example": "@ 60 IN MX 0 .\n"}
        with KnotServer(zones) as dns:
            st = StateDir(mailboxes={SENDER: "pw-app"})
            self.addCleanup(st.cleanup)
            st.set_config({"resolver": f"127.0.0.1:{dns.port}"})
            import sqlite3
            db = sqlite3.connect(os.path.join(st.path, "config.db"))
            db.execute("INSERT OR IGNORE INTO ip_pools (name) VALUES ('default')")
            db.execute("INSERT INTO ips (address, family, hostname, pool_id) VALUES "
                       "('127.0.0.3', 4, 'out1.example.test', (SELECT id FROM ip_pools WHERE name='default'))")
            db.commit()
            db.close()
            # An `mx:` pacing rule: matched against the MX host the transport looked up.
            st.ctl("pacing", "add", "mx:*.remote.example", "--max-connections", "3")
            d = self.watch(Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",)))
            d.start()
            self.addCleanup(d.stop)
            self.assertEqual(submit(d, ["someone@remote.example"], "mx1@it.example"), {})
            msgs = up.wait_messages(1, 30)
            self.assertGreaterEqual(down.connections, 1, "the preferred MX (10) was not tried first")
            self.assertEqual(msgs[0].peer[0], "127.0.0.3", "not sent from the pool's IP")
            self.assertEqual(msgs[0].helo, "out1.example.test", "EHLO is not the IP's PTR name")
            import json
            dests = json.loads(st.ctl("destinations", "--json").stdout)["destinations"]
            remote = [x for x in dests if x["domain"] == "remote.example"]
            self.assertEqual(len(remote), 1, dests)
            self.assertEqual(remote[0]["max_connections"], 3, "the mx: rule does not apply")
            # Null MX: bounced at once, no connection anywhere.
            conns = up.connections + down.connections
            self.assertEqual(submit(d, ["x@nullmx.example"], "mx2@it.example"), {})
            harness.wait_until(lambda: "5.1.10" in st.ctl("log", "search", "x@nullmx.example").stdout, 20,
                               what="the null-MX recipient bounced with 5.1.10")
            self.assertEqual(up.connections + down.connections, conns)


if __name__ == "__main__":
    harness.main()
