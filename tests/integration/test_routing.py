#!/usr/bin/env python3
"""routing: dedicated IPs, pools, sender and transport routes and pacing rules set with
carteroctl and used by carterod — mail from a routed sender domain leaves from its pool's IP
(127.0.0.3) and says EHLO with that IP's name; transport routes split traffic between sinks;
messages-per-connection 2 makes 5 messages use 3 connections; a "421 4.7.0 slow down" pauses the
destination and `carteroctl destinations` shows it with that reply; hostile CLI input gives one
clear line and changes nothing."""

import json
import os
import smtplib
import stat
import time

import harness
from harness import DOMAIN, StateDir, Carterod
from smtp_sink import SmtpSink

SENDER = f"app@{DOMAIN}"
ROUTED = "news@x-sender.example"  # sender domain routed to pool b (127.0.0.3)


def submit(d, rcpts, msgid, sender=SENDER):
    msg = harness.make_message(f"<{msgid}>", sender=sender, to=rcpts[0])
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
        return s.sendmail(sender, rcpts, msg)


def with_id(sink, msgid):
    return [m for m in sink.messages if msgid.encode() in m.data]


class Routing(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.one = SmtpSink(host="127.0.0.1").start()       # transport route for one.example
        cls.star = SmtpSink(host="127.0.0.1").start()      # "*": everything else
        cls.paced = SmtpSink(host="127.0.0.1", banner_delay=1.5).start()
        cls.slow = SmtpSink(host="127.0.0.1", connection_replies=["421 4.7.0 slow down"] * 50).start()
        cls.sinks = [cls.one, cls.star, cls.paced, cls.slow]
        st = cls.state = StateDir(mailboxes={SENDER: "pw-app"})
        st.ctl("pool", "add", "a")
        st.ctl("pool", "add", "b")
        st.ctl("ip", "add", "127.0.0.2", "--hostname", "a.example.test", "--pool", "a")
        st.ctl("ip", "add", "127.0.0.3", "--hostname", "b.example.test", "--pool", "b")
        st.ctl("route", "sender", "add", "x-sender.example", "b")
        st.ctl("route", "transport", "add", "one.example", f"127.0.0.1:{cls.one.port}")
        st.ctl("route", "transport", "add", ".sub.example", f"127.0.0.1:{cls.one.port}")
        st.ctl("route", "sender", "add", ".y-parent.example", "b")
        st.ctl("route", "transport", "add", "*", f"127.0.0.1:{cls.star.port}")
        st.ctl("route", "transport", "add", "paced.example", f"127.0.0.1:{cls.paced.port}")
        st.ctl("route", "transport", "add", "slow.example", f"127.0.0.1:{cls.slow.port}")
        st.ctl("pacing", "add", "paced.example", "--messages-per-connection", "2",
               "--max-connections", "1", "--note", "integration test")
        cls.d = Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",))
        cls.daemons = [cls.d]
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        for s in cls.sinks:
            s.stop()
        cls.state.cleanup()

    def destinations(self):
        return json.loads(self.state.ctl("destinations", "--json").stdout)["destinations"]

    def test_sender_route_picks_the_pool_ip_and_its_ehlo_name(self):
        ids = [f"sr{i}@it.example" for i in range(3)]
        for i, msgid in enumerate(ids):
            self.assertEqual(submit(self.d, [f"friend{i}@else.example"], msgid, sender=ROUTED), {})
        harness.wait_until(lambda: all(with_id(self.star, m) for m in ids), 20,
                           what="the routed sender's messages at the '*' sink")
        for msgid in ids:
            m = with_id(self.star, msgid)[0]
            self.assertEqual(m.peer[0], "127.0.0.3", "not sent from pool b's address")
            self.assertEqual(m.helo, "b.example.test", "EHLO is not the address's PTR name")
        # An address route (more specific than no route at all), picked up on reload.
        self.state.ctl("route", "sender", "add", SENDER, "a")
        self.assertIn(f"{SENDER}\ta", self.state.ctl("route", "sender", "list").stdout)
        time.sleep(1.5)  # carterod notices config.db changes within a second
        self.assertEqual(submit(self.d, ["friend@else.example"], "sr-a@it.example"), {})
        harness.wait_until(lambda: with_id(self.star, "sr-a@it.example"), 20, what="the pool a message")
        m = with_id(self.star, "sr-a@it.example")[0]
        self.assertEqual(m.peer[0], "127.0.0.2")
        self.assertEqual(m.helo, "a.example.test")

    def test_transport_routes_split_the_traffic(self):
        self.assertEqual(submit(self.d, ["x@one.example"], "tr1@it.example", sender=ROUTED), {})
        self.assertEqual(submit(self.d, ["y@two.example"], "tr2@it.example", sender=ROUTED), {})
        harness.wait_until(lambda: with_id(self.one, "tr1@it.example") and with_id(self.star, "tr2@it.example"),
                           20, what="one.example at sink 1 and two.example at the '*' sink")
        self.assertFalse(with_id(self.star, "tr1@it.example"), "one.example went to the relayhost")
        self.assertFalse(with_id(self.one, "tr2@it.example"), "two.example went to one.example's hop")
        self.assertEqual(with_id(self.one, "tr1@it.example")[0].rcpts, ["x@one.example"])
        listing = self.state.ctl("route", "transport", "list").stdout
        self.assertIn(f"*\t127.0.0.1:{self.star.port}\topportunistic\t-", listing)
        self.assertTrue(listing.startswith("*\t"), "the relayhost is listed first")

    def test_subdomain_routes(self):
        # ".sub.example": every subdomain of sub.example goes to sink 1, sub.example itself not;
        # ".y-parent.example": senders at any subdomain of y-parent.example leave from pool b.
        sender = "app@deep.y-parent.example"
        self.assertEqual(submit(self.d, ["a@x.sub.example"], "sub1@it.example", sender=sender), {})
        self.assertEqual(submit(self.d, ["b@sub.example"], "sub2@it.example", sender=sender), {})
        self.assertEqual(submit(self.d, ["c@y.x.sub.example"], "sub3@it.example", sender=ROUTED), {})
        harness.wait_until(lambda: with_id(self.one, "sub1@it.example") and with_id(self.star, "sub2@it.example")
                           and with_id(self.one, "sub3@it.example"), 20,
                           what="subdomains of sub.example at sink 1, sub.example itself at the '*' sink")
        self.assertFalse(with_id(self.one, "sub2@it.example"), "the parent matched its subdomain route")
        for msgid in ("sub1@it.example", "sub2@it.example"):
            m = (with_id(self.one, msgid) or with_id(self.star, msgid))[0]
            self.assertEqual(m.peer[0], "127.0.0.3", "the subdomain sender route did not pick pool b")
        self.assertIn(".sub.example\t", self.state.ctl("route", "transport", "list").stdout)
        for bad in ("..sub.example", ".", ".*.example"):
            p = self.state.ctl("route", "transport", "add", bad, "127.0.0.1:25", check=False)
            self.assertNotEqual(p.returncode, 0, f"{bad!r} accepted")
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_messages_per_connection_2_makes_5_messages_use_3_connections(self):
        before = self.paced.connections
        msg = [harness.make_message(f"<pc{i}@it.example>", sender=ROUTED, to=f"r{i}@paced.example")
               for i in range(5)]
        with smtplib.SMTP(harness.HOST, self.d.smtp, timeout=20) as s:
            for i in range(5):
                s.sendmail(ROUTED, [f"r{i}@paced.example"], msg[i])
        self.paced.wait_messages(5, 30)
        time.sleep(0.5)
        self.assertEqual(self.paced.connections - before, 3,
                         "5 messages at 2 per connection (1 connection at a time) take 3 connections")
        rule = [l for l in self.state.ctl("pacing", "list").stdout.splitlines()
                if l.startswith("paced.example\t")]
        self.assertEqual(rule, ["paced.example\t1\t-\t2\tadmin\tintegration test"])
        self.assertIn("*.gmail.com\t10\t600\t100\tshipped\t", self.state.ctl("pacing", "list").stdout)

    def test_slow_down_reply_pauses_the_destination(self):
        self.assertEqual(submit(self.d, ["z@slow.example"], "slow1@it.example", sender=ROUTED), {})

        def paused():
            return [x for x in self.destinations() if x["domain"] == "slow.example" and x["paused"]]
        harness.wait_until(paused, 20, what="slow.example paused in `carteroctl destinations`")
        row = paused()[0]
        self.assertEqual(row["source_ip"], "127.0.0.3")
        self.assertIn("421 4.7.0 slow down", row["reply"])
        self.assertGreater(row["paused_until"], time.time())
        human = self.state.ctl("destinations").stdout
        line = [l for l in human.splitlines() if l.startswith("slow.example")]
        self.assertTrue(line and "paused until" in line[0], human)
        self.assertIn("421 4.7.0 slow down", human)
        # New limits reach the existing destination on reload.
        self.assertEqual(row["max_connections"], 5)
        self.state.ctl("pacing", "add", "slow.example", "--max-connections", "2")
        harness.wait_until(lambda: [x for x in self.destinations() if x["domain"] == "slow.example"
                                    and x["max_connections"] == 2], 10,
                           what="the new pacing rule applied to slow.example")

    def test_auth_secret_is_written_0600_and_removed(self):
        self.state.ctl("route", "transport", "add", "auth.example", "relay.auth.example:587",
                       "--require-tls", "--auth-user", "u1", "--password-stdin", input="pw-secret\n")
        path = os.path.join(self.state.path, "secrets", "transport-auth.example.secret")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            self.assertEqual(f.read(), "pw-secret\n")
        self.assertIn("auth.example\trelay.auth.example:587\trequired\tu1",
                      self.state.ctl("route", "transport", "list").stdout)
        self.state.ctl("route", "transport", "remove", "auth.example")
        self.assertFalse(os.path.exists(path))

    def test_hostile_inputs_give_one_line_and_change_nothing(self):
        def snapshot():
            return [self.state.ctl(*c).stdout for c in (("ip", "list"), ("pool", "list"),
                                                       ("route", "sender", "list"),
                                                       ("route", "transport", "list"),
                                                       ("pacing", "list"))]
        before = snapshot()
        cases = [
            (("ip", "add", "10.0.0.300", "--hostname", "h.example.test"), "10.0.0.300 is not an IPv4 address"),
            (("ip", "add", "127.0.0.9", "--hostname", "h.example.test", "--pool", "nosuch"),
             "pool nosuch does not exist"),
            (("ip", "add", "127.0.0.2", "--hostname", "h.example.test"), "already exists"),
            (("route", "sender", "add", "y.example", "nosuch"), "pool nosuch does not exist"),
            (("route", "sender", "add", "x-sender.example", "a"), "already routed to pool b"),
            (("pacing", "add", "a*b.example", "--max-connections", "1"), "pacing pattern 'a*b.example'"),
            (("pacing", "add", "z.example", "--max-connections", "-1"), "max-connections -1 is out of range"),
            (("pacing", "add", "z.example", "--messages-per-minute", "0"), "messages-per-minute 0 is out of range"),
            (("pacing", "add", "z.example"), "sets no limit"),
            (("pacing", "remove", "nosuch.example"), "does not exist"),
            (("route", "transport", "add", "foo.example", "127.0.0.1:99999"), "is not 1-65535"),
            (("route", "transport", "add", "foo.example", "relay.example", "--auth-user", "u"),
             "--auth-user needs --password-stdin"),
            (("route", "transport", "add", "*", "relay.example"), "already goes to"),
            (("ip", "add", "\x1b[31m", "--hostname", "h.example.test"), "\\x1b[31m is not an IPv4 address"),
        ]
        for args, text in cases:
            with self.subTest(args=args):
                p = self.state.ctl(*args, check=False)
                self.assertIn(p.returncode, (1, 2), p.stderr)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn(text, lines[0])
                self.assertNotIn("\x1b", p.stderr)
        self.assertEqual(snapshot(), before)


if __name__ == "__main__":
    harness.main()
