#!/usr/bin/python3
"""crash: >= 1000 messages from 20 concurrent sessions while carterod is SIGKILLed and
restarted every ~2 s. Afterwards every message that got 250 is in the Maildir exactly once, and
no message is there twice. Bounded: sending stops after SEND_BUDGET s."""

import os
import re
import sqlite3
import socket
import ssl
import threading
import time

import harness
from harness import DOMAIN, SMTPClient, make_message

ALICE = f"alice@{DOMAIN}"
SESSIONS = 20
TARGET = 1000
MIN_KILLS = 5
KILL_EVERY = 2.0
SEND_BUDGET = 80.0
DELIVERY_WAIT = 30.0
# Pace the senders so that about 1.5 x TARGET messages spread over the MIN_KILLS kill periods
# (an unpaced run sends ~10 000 messages, and then waits for delivery instead of testing).
RATE = 1.5 * TARGET / (MIN_KILLS * KILL_EVERY)
MSGID_RE = re.compile(rb"^Message-ID:\s*<(crash-[0-9]+-[0-9]+)@it\.example>", re.I | re.M)


class Crash(harness.CarteroTestCase):
    def test_kill9_loses_nothing_and_duplicates_nothing(self):
        state = harness.StateDir(mailboxes={ALICE: "pw"},
                                 config={"max_connections_per_ip": 1000})
        self.addCleanup(state.cleanup)
        d = self.watch(harness.Carterod(state, kinds=("smtp",)))
        self.addCleanup(d.kill)
        d.start()

        lock = threading.Lock()
        acked, uncertain, refused = set(), set(), []
        stop = threading.Event()
        t0 = time.monotonic()
        counter = [0]
        kills = [0]
        errors = []

        def next_id(worker):
            with lock:
                counter[0] += 1
                n = counter[0]
            delay = t0 + n / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            return f"crash-{worker}-{n}"

        def worker(w):
            c = None
            while not stop.is_set():
                try:
                    if c is None:
                        c = SMTPClient(d.smtp, timeout=10)
                        if c.banner[0] != 220:
                            raise ConnectionError(f"banner {c.banner}")
                        c.ehlo()
                    mid = next_id(w)
                    size = 20000 if counter[0] % 10 == 0 else 0
                    msg = make_message(f"<{mid}@it.example>", size=size)
                    c.expect("MAIL FROM:<load@remote.example>", 250)
                    c.expect(f"RCPT TO:<{ALICE}>", 250)
                    c.expect("DATA", 354)
                    sent = False
                    try:
                        c.send(msg + b".\r\n")
                        sent = True
                        code, text = c.reply()
                    except (OSError, ConnectionError, harness.SMTPError):
                        if sent:
                            with lock:
                                uncertain.add(mid)
                        raise
                    with lock:
                        if code == 250:
                            acked.add(mid)
                        else:
                            refused.append((mid, code, text))
                            if code >= 500:
                                errors.append(f"permanent refusal {code} {text}")
                except (OSError, ConnectionError, harness.SMTPError, socket.timeout, ssl.SSLError):
                    if c is not None:
                        c.close()
                    c = None
                    time.sleep(0.05)
            if c is not None:
                c.close()

        def killer():
            while not stop.wait(KILL_EVERY):
                d.kill()
                kills[0] += 1
                try:
                    d.start(timeout=20)
                except AssertionError as e:
                    errors.append(f"restart #{kills[0]} failed: {e}")
                    stop.set()

        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(SESSIONS)]
        k = threading.Thread(target=killer, daemon=True)
        for t in threads:
            t.start()
        k.start()
        while time.monotonic() - t0 < SEND_BUDGET and not stop.is_set():
            with lock:
                done = len(acked) >= TARGET and kills[0] >= MIN_KILLS
            if done:
                break
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(15)
        k.join(30)
        send_time = time.monotonic() - t0
        self.assertEqual(errors[:5], [], "errors during the crash run")

        # restart once more and let delivery finish
        d.kill()
        d.start()

        def scan():
            seen = {}
            for p in state.messages(ALICE):
                try:
                    with open(p, "rb") as f:
                        head = f.read(8192)
                except FileNotFoundError:
                    continue
                mo = MSGID_RE.search(head)
                key = mo.group(1).decode() if mo else f"?{os.path.basename(p)}"
                seen[key] = seen.get(key, 0) + 1
            return seen

        def all_acked_present():
            s = scan()
            return all(m in s for m in acked)
        try:
            harness.wait_until(all_acked_present, DELIVERY_WAIT, interval=0.5,
                               what="every acknowledged message in the Maildir")
        except AssertionError:
            pass  # reported precisely below
        time.sleep(1.0)
        seen = scan()
        missing = sorted(m for m in acked if m not in seen)
        dups = {m: n for m, n in seen.items() if n > 1}
        foreign = sorted(m for m in seen if m.startswith("?"))
        never_sent = sorted(m for m in seen if not m.startswith("?") and m not in acked and m not in uncertain)
        summary = (f"{len(acked)} acknowledged, {len(uncertain)} uncertain (connection lost after the final dot), "
                   f"{len(refused)} refused, {kills[0]} SIGKILLs in {send_time:.1f}s; "
                   f"{sum(seen.values())} files in the Maildir")
        print("crash summary:", summary)
        if missing:
            queued = set()
            try:
                db = sqlite3.connect(f"file:{os.path.join(state.path, 'queue.db')}?mode=ro", uri=True, timeout=5)
                for (body,) in db.execute("SELECT body FROM messages"):
                    mo = MSGID_RE.search(bytes(body)[:8192])
                    if mo:
                        queued.add(mo.group(1).decode())
                db.close()
            except sqlite3.Error as e:
                queued = {f"<queue.db unreadable: {e}>"}
            still = [m for m in missing if m in queued]
            summary += (f"; of the {len(missing)} missing, {len(still)} are still in queue.db (not delivered "
                        f"within {DELIVERY_WAIT:.0f}s of the last restart), {len(missing) - len(still)} are "
                        f"nowhere (LOST); queue: {state.queue_describe()}")
        self.assertEqual(missing, [], f"messages that got 250 are missing ({len(missing)}): {missing[:20]} — {summary}")
        self.assertEqual(dups, {}, f"messages delivered more than once: {dict(list(dups.items())[:20])} — {summary}")
        self.assertEqual(foreign, [], f"files without a known Message-ID (partial/corrupt?): {foreign[:10]}")
        self.assertEqual(never_sent, [], f"messages that were refused (or never fully sent) were delivered: {never_sent[:10]}")
        self.assertGreaterEqual(kills[0], MIN_KILLS, f"only {kills[0]} SIGKILLs happened — {summary}")
        self.assertGreaterEqual(len(acked), TARGET,
                                f"only {len(acked)} of {TARGET} messages acknowledged within {SEND_BUDGET:.0f}s — {summary}")
        self.assertEqual(d.stop(), 0, "carterod exit status after SIGTERM")


if __name__ == "__main__":
    harness.main()
