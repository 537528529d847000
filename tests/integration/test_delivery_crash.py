#!/usr/bin/python3
"""delivery_crash: SIGKILL during outbound delivery loses nothing and repeats at most the
messages in flight. N messages are queued for a slow remote MX (a sink on 127.0.0.5 that takes
DATA_DELAY s per message, at most CONNECTIONS connections by a pacing rule); carterod is
SIGKILLed while deliveries run, several times, and restarted on the same state dir. At the sink:
every message arrived at least once, and the copies beyond the first are only of messages that
were in flight at a kill (at most CONNECTIONS per kill: one open transaction per connection).
Bounded: KILLS kills, each after at most KILL_WAIT s; the final drain waits DRAIN_WAIT s."""

import re
import smtplib
import time

import harness
from harness import DOMAIN, StateDir, Carterod
from smtp_sink import SmtpSink

SENDER = f"app@{DOMAIN}"
N = 90
CONNECTIONS = 3
DATA_DELAY = 0.12
KILLS = 4
KILL_WAIT = 20.0
DRAIN_WAIT = 40.0
MSGID_RE = re.compile(rb"^Message-ID:\s*<(dc-[0-9]+)@it\.example>", re.I | re.M)


class DeliveryCrash(harness.CarteroTestCase):
    def test_sigkill_during_delivery(self):
        sink = SmtpSink(host="127.0.0.5", data_delay=DATA_DELAY).start()
        self.addCleanup(sink.stop)
        st = StateDir(mailboxes={SENDER: "pw-app"})
        self.addCleanup(st.cleanup)
        st.ctl("route", "transport", "add", "slow.example", f"127.0.0.5:{sink.port}")
        st.ctl("pacing", "add", "slow.example", "--max-connections", str(CONNECTIONS),
               "--note", "delivery_crash test")
        d = self.watch(Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",)))
        self.addCleanup(d.kill)
        d.start()

        # Queue everything in one session (each 250 is durable: fsync before the reply).
        ids = [f"dc-{i}" for i in range(N)]
        with smtplib.SMTP(harness.HOST, d.smtp, timeout=30) as s:
            for i, mid in enumerate(ids):
                msg = harness.make_message(f"<{mid}@it.example>", sender=SENDER,
                                           to=f"r{i}@slow.example")
                self.assertEqual(s.sendmail(SENDER, [f"r{i}@slow.example"], msg), {})

        def count():
            return len(sink.messages)

        # Kill while deliveries are in flight: after a few more messages arrived since the
        # (re)start, so connections are open and transactions under way.
        kill_times = []
        for k in range(KILLS):
            base = count()
            harness.wait_until(lambda: count() >= base + 4, KILL_WAIT,
                               what=f"deliveries in progress before kill #{k + 1}")
            time.sleep(DATA_DELAY / 2)  # mid-transaction on some connection
            d.kill()
            kill_times.append(time.monotonic())
            self.assertLess(len({m for m in self._ids(sink)}), N,
                            "everything was delivered before the kills: make N larger")
            d.start()

        try:
            harness.wait_until(lambda: set(ids) <= self._ids(sink), DRAIN_WAIT, interval=0.2,
                               what="every message at the sink after the last restart")
        except AssertionError:
            pass  # reported precisely below
        harness.wait_until(lambda: self._queue_empty(st), 15,
                           what=f"queue.db empty (every delivery recorded): {st.queue_describe()}")
        time.sleep(2 * DATA_DELAY)  # a stray redelivery would arrive now

        seen = self._ids(sink)
        missing = sorted(set(ids) - seen, key=lambda x: int(x[3:]))
        self.assertEqual(missing, [], f"lost: {missing[:20]} ({len(missing)}); queue: {st.queue_describe()}")
        self.assertEqual(seen - set(ids), set(), "the sink got messages nobody sent")

        # Every extra copy is of a message whose first copy arrived before some kill (or up to
        # DATA_DELAY after it: the sink takes a message it is still reading when the client
        # dies) and after the previous one: it was in flight at that kill. At most CONNECTIONS
        # per kill.
        first, copies = {}, {}
        for m in sink.messages:
            mid = self._mid(m)
            copies[mid] = copies.get(mid, 0) + 1
            first.setdefault(mid, m.at)
        per_kill = [0] * KILLS
        for mid, n in copies.items():
            if n == 1:
                continue
            k = next((i for i, t in enumerate(kill_times) if first[mid] <= t + DATA_DELAY + 0.1), None)
            self.assertIsNotNone(k, f"{mid} was delivered {n} times though it first arrived after the last kill")
            per_kill[k] += n - 1
        print(f"delivery_crash: {len(sink.messages)} deliveries of {N} messages, {KILLS} kills, "
              f"repeats per kill {per_kill}, {sink.connections} connections")
        for k, n in enumerate(per_kill):
            self.assertLessEqual(n, CONNECTIONS,
                                 f"kill #{k + 1} made {n} messages go out again; at most {CONNECTIONS} "
                                 f"(one transaction per connection) were in flight (repeats per kill: {per_kill})")
        self.assertEqual(d.stop(), 0, "carterod exit status after SIGTERM")

    @staticmethod
    def _mid(m):
        mo = MSGID_RE.search(m.data[:4096])
        return mo.group(1).decode() if mo else "?"

    def _ids(self, sink):
        return {self._mid(m) for m in list(sink.messages)}

    @staticmethod
    def _queue_empty(st):
        _, rows = st.queue_snapshot()
        return rows.get("messages", 0) == 0


if __name__ == "__main__":
    harness.main()
