#!/usr/bin/env python3
"""outbound_reuse: a cached (reused) outbound connection that the server dropped meanwhile —
closed after the last transaction (its idle timeout) or answering the next MAIL with 421 —
costs the next message nothing: it goes out at once on a fresh connection, with no deferral in
the delivery log. A server that drops fresh connections too ends in a normal deferral after
one reconnect (no loop)."""

import smtplib
import time

import harness
from harness import DOMAIN, StateDir, Carterod
from smtp_sink import SmtpSink

SENDER = f"app@{DOMAIN}"

# The remote MX takes the first message of its first connection, then:
# "close":  closes that connection right after the 250 (the client finds out on reuse);
# "421":    answers the next MAIL on it with 421 and closes;
# "always": closes it like "close", and every later connection is closed at its MAIL.
SINK_MODES = {
    "close": dict(close_after_message=True),
    "421": dict(reused_mail_reply="421 4.4.2 drop.example Error: timeout exceeded"),
    "always": dict(close_after_message=True, drop_mail_from_connection=2),
}


def got(sink, rcpt):
    """The connection numbers that carried a message for rcpt."""
    with sink._lock:
        return [m.connection for m in sink.messages if rcpt in m.rcpts]


def submit(d, rcpt, msgid):
    msg = harness.make_message(f"<{msgid}>", sender=SENDER, to=rcpt)
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
        return s.sendmail(SENDER, [rcpt], msg)


class ReusedConnectionDropped(harness.CarteroTestCase):
    def run_pair(self, mode, tag):
        """First message on a fresh connection; the second one while that connection is parked
        for reuse (idle_time 2 s). Returns (sink, carterod, state)."""
        sink = SmtpSink(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"], **SINK_MODES[mode]).start()
        self.addCleanup(sink.stop)
        st = StateDir(mailboxes={SENDER: "pw-app"})
        self.addCleanup(st.cleanup)
        d = self.watch(Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                                relayhost=f"127.0.0.1:{sink.port}"))
        d.start()
        self.addCleanup(d.stop)
        first, second = f"one-{tag}@remote.example", f"two-{tag}@remote.example"
        self.assertEqual(submit(d, first, f"{tag}1@it.example"), {})
        harness.wait_until(lambda: got(sink, first), 20, interval=0.02, what="the first message")
        t0 = time.monotonic()
        self.assertEqual(submit(d, second, f"{tag}2@it.example"), {})
        return sink, d, st, second, t0

    def check_reconnected(self, mode, tag):
        sink, d, st, second, t0 = self.run_pair(mode, tag)
        conns = harness.wait_until(lambda: got(sink, second), 10, interval=0.02,
                                   what="the second message on a fresh connection")
        self.assertLess(time.monotonic() - t0, 8, "the second message was not sent at once")
        self.assertEqual(conns, [2], "not delivered on a second, fresh connection")
        self.assertEqual(sink.connections, 2)
        self.assertIn("event=outbound_reconnect", d.log(), "the parked connection was not reused")
        out = harness.wait_until(lambda: (o := st.ctl("log", "search", second).stdout)
                                 and "delivered" in o and o, 10, what="the delivery logged")
        self.assertNotIn("deferred", out)
        self.assertNotIn("4.4.2", out)

    def test_closed_while_idle_reconnects_at_once(self):
        self.check_reconnected("close", "eof")

    def test_421_on_reused_mail_reconnects_at_once(self):
        self.check_reconnected("421", "x421")

    def test_server_dropping_fresh_connections_too_defers_once(self):
        sink, d, st, second, _ = self.run_pair("always", "loop")
        out = harness.wait_until(lambda: (o := st.ctl("log", "search", second).stdout)
                                 and "deferred" in o and o, 15, what="the second message deferred")
        self.assertNotIn("delivered", out)
        time.sleep(1.5)  # a looping client would keep connecting meanwhile
        self.assertEqual(sink.connections, 2, "not exactly one reconnect")
        self.assertEqual(got(sink, second), [])
        self.assertEqual(d.log().count("event=outbound_reconnect"), 1)
        self.assertEqual(st.ctl("log", "search", second).stdout.count("deferred"), 1)


if __name__ == "__main__":
    harness.main()
