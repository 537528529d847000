#!/usr/bin/env python3
"""spool: message bodies of 64 KiB (65536 bytes) or more live in `<state>/spool/<queue id>`
(queue.db messages.spooled = 1, messages.body empty, size = the body size), smaller ones in
queue.db as before. Checked end to end with a scripted relayhost (smtp_sink.py) and a local
Maildir: large bodies arrive byte-identical (dot-stuffing both ways, '.' lines throughout), the
file survives a SIGKILL and is delivered after the restart (remote and local), `queue show`
reads its headers, the file goes once the message row is gone, carterod's start sweeps files
without a row, and a spool file removed by hand never turns into an empty message on the wire.

Messages are kept in the queue by a per-recipient `451` at the sink's RCPT (the recipient is
deferred with a backoff of minutes, so nothing retries on its own during a test) and sent on
with `carteroctl queue retry` after the sink's script is changed."""

import hashlib
import json
import os
import re
import sqlite3
import time

import harness
from harness import DOMAIN, Carterod, SMTPClient, StateDir
from smtp_sink import SmtpSink

SENDER = f"app@{DOMAIN}"
LOCAL = f"alice@{DOMAIN}"
THRESHOLD = 65536
DEFER = "451 4.3.0 Temporary local problem, try again"


# ---------------------------------------------------------------------------------------------
# messages


def payload(tag: str, size: int) -> bytes:
    """A CRLF body of about size bytes: every line carries tag and its number; many lines
    start with '.' (a lone '.', '..', '.x'), some are long, the last one is a lone '.'."""
    lines, total, i = [], 0, 0
    while total < size:
        n = f"{tag}-L{i:06d}"
        k = i % 11
        if k == 0:
            line = "."
        elif k == 3:
            line = ".." + n
        elif k == 5:
            line = "." + n + " leading dot"
        elif k == 7:
            line = n + " " + "y" * 900  # long, still under 998
        else:
            line = n + " " + "x" * ((i * 37) % 120)
        lines.append(line)
        total += len(line) + 2
        i += 1
    lines.append(".")
    return ("\r\n".join(lines) + "\r\n").encode()


def message(tag: str, to: str, size: int) -> tuple[bytes, bytes]:
    """(whole message, its body) with Subject and Message-ID naming tag."""
    body = payload(tag, size)
    head = (f"From: <{SENDER}>\r\nTo: <{to}>\r\nSubject: spool test {tag}\r\n"
            f"Message-ID: <{tag}@spool.example>\r\nDate: Mon, 23 Nov 2026 07:00:00 +0000\r\n\r\n")
    return head.encode() + body, body


def body_of(raw: bytes) -> bytes:
    i = raw.find(b"\r\n\r\n")
    return raw[i + 4:] if i >= 0 else b""


def describe_difference(got: bytes, want: bytes) -> str:
    if got == want:
        return "identical"
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
    return (f"{len(got)} bytes (sha256 {hashlib.sha256(got).hexdigest()[:16]}) instead of {len(want)} "
            f"(sha256 {hashlib.sha256(want).hexdigest()[:16]}); first difference at offset {i}: "
            f"got {got[max(0, i - 40):i + 40]!r}, want {want[max(0, i - 40):i + 40]!r}")


def send(d, rcpts, data: bytes, sender=SENDER):
    with SMTPClient(d.smtp, timeout=30) as c:
        c.ehlo()
        code, text = c.send_mail(sender, rcpts, data)
        c.cmd("QUIT")
    return code, text


# ---------------------------------------------------------------------------------------------
# queue.db and spool/


def spool_dir(st) -> str:
    return os.path.join(st.path, "spool")


def spool_files(st) -> list:
    d = spool_dir(st)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def query(st, sql, args=()):
    db = sqlite3.connect(f"file:{os.path.join(st.path, 'queue.db')}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


class SpoolTest(harness.CarteroTestCase):
    def setUp(self):
        super().setUp()
        self.sink = SmtpSink(host="127.0.0.1").start()
        self.addCleanup(self.sink.stop)
        self.st = StateDir(mailboxes={SENDER: "pw-app", LOCAL: "pw-alice"})
        self.addCleanup(self.st.cleanup)
        self.d = self.watch(Carterod(self.st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                                     relayhost=f"127.0.0.1:{self.sink.port}"))
        self.addCleanup(self.d.kill)
        self.d.start()

    # helpers ----------------------------------------------------------------------------------
    def row(self, tag):
        """The messages row of tag: dict(id, size, body_len, body, spooled) or None."""
        cols = [r[1] for r in query(self.st, "PRAGMA table_info(messages)")]
        self.assertIn("spooled", cols, "queue.db messages has no column `spooled` (spool not in this build?)")
        rows = query(self.st, "SELECT id, size, length(body), body, spooled FROM messages "
                              "WHERE message_id_header LIKE ?", (f"%{tag}%",))
        self.assertLessEqual(len(rows), 1, rows)
        if not rows:
            return None
        r = rows[0]
        return {"id": r[0], "size": r[1], "body_len": r[2], "body": bytes(r[3]), "spooled": r[4]}

    def rcpt_states(self, qid):
        return query(self.st, "SELECT rcpt_to, state, last_reply FROM recipients WHERE message_id = ?", (qid,))

    def queue_deferred(self, tag, to, size):
        """Send tag's message to `to` (which the sink defers, or a broken Maildir) and wait until
        its recipient is deferred; returns (row, whole message, body)."""
        data, body = message(tag, to, size)
        code, text = send(self.d, [to], data)
        self.assertEqual(code, 250, text)
        r = harness.wait_until(lambda: self.row(tag), 10, what=f"{tag} in queue.db")
        harness.wait_until(lambda: any(s == "deferred" for _, s, _ in self.rcpt_states(r["id"])), 15,
                           what=f"{tag}'s recipient deferred: {self.rcpt_states(r['id'])}")
        return self.row(tag), data, body

    def wait_spool_empty(self):
        """spool/ empties once the rows are gone and a later durable commit happened; after 1.5 s
        one small message (to a local mailbox) gives the daemon that commit."""
        try:
            harness.wait_until(lambda: not spool_files(self.st), 1.5, what="spool/ empty")
            return
        except AssertionError:
            pass
        tag = f"trigger{time.time_ns()}"
        data, _ = message(tag, LOCAL, 200)
        self.assertEqual(send(self.d, [LOCAL], data)[0], 250)
        harness.wait_until(lambda: not spool_files(self.st), 6,
                           what=f"spool/ empty after one more message (left: {spool_files(self.st)}; "
                                f"queue.db: {self.st.queue_describe()})")

    def relay_byte_identical(self, tag, data, body):
        """Sends data to friend@remote.example; exactly one copy reaches the sink, with body."""
        code, text = send(self.d, ["friend@remote.example"], data)
        self.assertEqual(code, 250, text)
        harness.wait_until(lambda: self.sink_copies(tag), 20, what=f"{tag} at the sink")
        copies = self.sink_copies(tag)
        self.assertEqual(len(copies), 1)
        got = body_of(copies[0].data)
        self.assertEqual(got, body, "body at the sink: " + describe_difference(got, body))

    def sink_copies(self, tag):
        key = f"<{tag}@spool.example>".encode()
        return [m for m in list(self.sink.messages) if key in m.data]

    def assert_spooled(self, r, tag, body):
        """r is spooled: file spool/<id> = the stored bytes (Received first, our body last),
        body column empty, size = file size."""
        self.assertEqual(r["spooled"], 1, f"{tag} ({r['size']} bytes) not spooled")
        self.assertEqual(r["body_len"], 0, "messages.body not empty for a spooled message")
        path = os.path.join(spool_dir(self.st), r["id"])
        self.assertTrue(os.path.isfile(path), f"no spool file {path}; spool/: {spool_files(self.st)}")
        with open(path, "rb") as f:
            stored = f.read()
        self.assertEqual(len(stored), r["size"], "messages.size is not the spool file's size")
        self.assertTrue(stored.startswith(b"Received:"), stored[:200])
        self.assertEqual(body_of(stored), body, describe_difference(body_of(stored), body))
        return stored

    # tests ------------------------------------------------------------------------------------
    def test_large_relayed_byte_identical_then_spool_empty(self):
        tag = f"big{time.time_ns()}"
        data, body = message(tag, "friend@remote.example", 200_000)
        self.assertGreater(data.count(b"\r\n.\r\n"), 100)
        self.relay_byte_identical(tag, data, body)
        harness.wait_until(lambda: self.row(tag) is None, 10,
                           what=f"{tag}'s row deleted: {self.st.queue_describe()}")
        self.wait_spool_empty()
        self.assertEqual(query(self.st, "SELECT id FROM messages WHERE spooled = 1"), [], self.st.queue_describe())

    def test_large_dot_free_relayed_byte_identical(self):
        # No line starts with '.': the session marks the message dot-free and the client sends
        # the body as it is in memory (no stuffed copy). Dots elsewhere in lines stay.
        tag = f"plain{time.time_ns()}"
        data, body = message(tag, "friend@remote.example", 150_000)
        body = b"\r\n".join(b"x" + l if l.startswith(b".") else l for l in body.split(b"\r\n"))
        body += b"a line. with. dots.\r\n"
        data = data[:data.index(b"\r\n\r\n") + 4] + body
        self.assertNotIn(b"\n.", data)
        self.relay_byte_identical(tag, data, body)

    def test_small_stays_in_queue_db_and_threshold(self):
        self.sink.rcpt_replies.update({f"{n}@remote.example": DEFER for n in ("small", "under", "over")})
        small, _, sbody = self.queue_deferred(f"small{time.time_ns()}", "small@remote.example", 1000)
        self.assertEqual(small["spooled"], 0)
        self.assertEqual(small["body_len"], small["size"])
        self.assertEqual(body_of(small["body"]), sbody)
        self.assertTrue(small["body"].startswith(b"Received:"), small["body"][:100])
        self.assertNotIn(small["id"], spool_files(self.st))
        self.assertEqual(spool_files(self.st), [], "a 1 KB message made a spool file")
        # Either side of 64 KiB: the stored size decides (Received and trace headers included).
        under, _, _ = self.queue_deferred(f"under{time.time_ns()}", "under@remote.example", 60_000)
        over, _, obody = self.queue_deferred(f"over{time.time_ns()}", "over@remote.example", 70_000)
        self.assertLess(under["size"], THRESHOLD)
        self.assertEqual((under["spooled"], under["body_len"]), (0, under["size"]))
        self.assertGreaterEqual(over["size"], THRESHOLD)
        self.assert_spooled(over, "over", obody)
        self.assertEqual(spool_files(self.st), [over["id"]])
        bad = query(self.st, "SELECT id, size, spooled FROM messages WHERE spooled != (size >= ?)", (THRESHOLD,))
        self.assertEqual(bad, [], "rows whose spooled flag contradicts size >= 65536")

    def test_sigkill_keeps_spooled_message(self):
        to = "later@remote.example"
        self.sink.rcpt_replies[to] = DEFER
        # Killed right at the 250: the file and the row are both there, complete.
        tag = f"kill{time.time_ns()}"
        data, body = message(tag, to, 150_000)
        code, text = send(self.d, [to], data)
        self.d.kill()
        self.assertEqual(code, 250, text)
        r = self.row(tag)
        self.assertIsNotNone(r, "a message acknowledged with 250 is not in queue.db after SIGKILL")
        stored = self.assert_spooled(r, tag, body)
        # Killed while deferred (a delivery attempt read the file and failed): unchanged.
        self.d.start()
        tag2 = f"kill2{time.time_ns()}"
        r2, _, body2 = self.queue_deferred(tag2, to, 150_000)
        stored2 = self.assert_spooled(r2, tag2, body2)
        self.d.kill()
        del self.sink.rcpt_replies[to]
        self.d.start()
        for t, rr, b, st_bytes in ((tag, r, body, stored), (tag2, r2, body2, stored2)):
            after = self.row(t)
            self.assertIsNotNone(after, f"{t}'s row is gone after the restart")
            self.assertEqual(self.assert_spooled(after, t, b), st_bytes, "spool file changed by the restart")
            self.st.ctl("queue", "retry", rr["id"])
        for t, b, st_bytes in ((tag, body, stored), (tag2, body2, stored2)):
            harness.wait_until(lambda: self.sink_copies(t), 20, what=f"{t} at the sink after the restart")
            copies = self.sink_copies(t)
            self.assertEqual(len(copies), 1, f"{t} sent {len(copies)} times")
            got = body_of(copies[0].data)
            self.assertEqual(got, b, f"{t}'s body at the sink after SIGKILL: " + describe_difference(got, b))
            # What left is exactly what was stored (DKIM/trace headers may be prepended).
            self.assertTrue(copies[0].data.endswith(st_bytes), f"{t}: the sink did not get the stored bytes")
            harness.wait_until(lambda: self.row(t) is None, 10, what=f"{t}'s row deleted")
        self.wait_spool_empty()

    def test_local_delivery_after_restart_reads_spool(self):
        # A regular file where the Maildir's tmp/ belongs: the delivery fails with 451 and the
        # recipient is deferred; carterod is killed, tmp/ fixed, and the restart delivers it.
        maildir = self.st.maildir(LOCAL)
        os.makedirs(maildir, exist_ok=True)
        blocker = os.path.join(maildir, "tmp")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        tag = f"local{time.time_ns()}"
        r, _, body = self.queue_deferred(tag, LOCAL, 100_000)
        self.assertIn("451", self.rcpt_states(r["id"])[0][2])
        stored = self.assert_spooled(r, tag, body)
        self.assertEqual(self.st.messages(LOCAL), [])
        self.d.kill()
        os.unlink(blocker)
        self.d.start()
        msgs = self.st.wait_msgid(LOCAL, f"<{tag}@spool.example>", 15)
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].startswith(b"Return-Path:"), msgs[0][:100])
        self.assertTrue(msgs[0].endswith(stored), "the Maildir file does not end with the stored bytes: "
                        + describe_difference(body_of(msgs[0]), body))
        harness.wait_until(lambda: self.row(tag) is None, 10, what=f"{tag}'s row deleted")
        self.wait_spool_empty()

    def test_start_sweeps_orphans_keeps_real_file(self):
        to = "later@remote.example"
        self.sink.rcpt_replies[to] = DEFER
        tag = f"keep{time.time_ns()}"
        r, _, body = self.queue_deferred(tag, to, 100_000)
        self.d.stop()
        outside = os.path.join(self.st.tmp, "outside-target")
        with open(outside, "wb") as f:
            f.write(b"must survive the sweep\n")
        orphans = ["ZZZORPHAN1234", "0000000000000ZZZ"]  # the second looks like a queue id
        for name in orphans:
            with open(os.path.join(spool_dir(self.st), name), "wb") as f:
                f.write(b"Received: from nowhere\r\n\r\n" + b"z" * 70000)
        os.symlink(outside, os.path.join(spool_dir(self.st), "ZZZLINK"))
        self.d.start()
        left = spool_files(self.st)
        for name in orphans:
            self.assertNotIn(name, left, f"orphan {name} not removed at start")
        self.assertIn(r["id"], left, "the queued message's own spool file was removed")
        self.assertTrue(os.path.isfile(outside), "the sweep removed the target of a symlink in spool/")
        with open(outside, "rb") as f:
            self.assertEqual(f.read(), b"must survive the sweep\n")
        self.assertNotIn("ZZZLINK", left, "a symlink without a row is left in spool/")
        self.assert_spooled(self.row(tag), tag, body)
        # Still deliverable after the sweep.
        del self.sink.rcpt_replies[to]
        self.st.ctl("queue", "retry", r["id"])
        harness.wait_until(lambda: self.sink_copies(tag), 20, what=f"{tag} at the sink")
        got = body_of(self.sink_copies(tag)[0].data)
        self.assertEqual(got, body, describe_difference(got, body))
        harness.wait_until(lambda: self.row(tag) is None, 10, what=f"{tag}'s row deleted")
        self.wait_spool_empty()

    def test_held_across_restart_then_released(self):
        # A held message is not loaded by the outbound scheduler at start; `queue release`
        # must still get it delivered (from its spool file).
        to = "later@remote.example"
        self.sink.rcpt_replies[to] = DEFER
        tag = f"held{time.time_ns()}"
        r, _, body = self.queue_deferred(tag, to, 90_000)
        self.st.ctl("queue", "hold", r["id"])
        self.d.stop()
        del self.sink.rcpt_replies[to]
        self.d.start()
        self.assertIn(r["id"], spool_files(self.st), "the held message's spool file was swept")
        # Release also retries now (scheduler::release): a `queue retry` after it raced with
        # the delivery and failed with "no message" once the message was already gone.
        self.st.ctl("queue", "release", r["id"])
        harness.wait_until(lambda: self.sink_copies(tag), 10,
                           what=f"{tag} (held across a restart, then released) at the sink; "
                                f"recipients: {self.rcpt_states(r['id'])}")
        got = body_of(self.sink_copies(tag)[0].data)
        self.assertEqual(got, body, describe_difference(got, body))

    def test_queue_show_spooled(self):
        to = "later@remote.example"
        self.sink.rcpt_replies[to] = DEFER
        tag = f"show{time.time_ns()}"
        r, _, _ = self.queue_deferred(tag, to, 120_000)
        self.assertEqual(r["spooled"], 1)
        self.st.ctl("queue", "hold", r["id"])
        show = json.loads(self.st.ctl("queue", "show", r["id"], "--json").stdout)
        self.assertEqual(show["size"], r["size"])
        self.assertIn(f"Subject: spool test {tag}", show["headers"])
        self.assertIn(f"Message-ID: <{tag}@spool.example>", show["headers"])
        self.assertTrue(show["headers"].startswith("Received:"), show["headers"][:200])
        self.assertNotIn(f"{tag}-L000001", show["headers"], "the body is shown as headers")
        text = self.st.ctl("queue", "show", r["id"]).stdout
        self.assertIn(f"Subject: spool test {tag}", text)
        self.assertIn(r["id"], text)
        # `queue delete` removes the row, and then the file.
        self.st.ctl("queue", "delete", r["id"])
        harness.wait_until(lambda: self.row(tag) is None, 10, what=f"{tag}'s row deleted")
        self.wait_spool_empty()

    def test_spool_file_removed_by_hand_sends_nothing(self):
        to = "later@remote.example"
        self.sink.rcpt_replies[to] = DEFER
        tag = f"gone{time.time_ns()}"
        r, _, _ = self.queue_deferred(tag, to, 100_000)
        self.assertEqual(r["spooled"], 1)
        self.st.ctl("queue", "hold", r["id"])
        os.unlink(os.path.join(spool_dir(self.st), r["id"]))
        del self.sink.rcpt_replies[to]
        before = len(self.sink.messages)
        log_at = len(self.d.log())
        self.st.ctl("queue", "release", r["id"])
        self.st.ctl("queue", "retry", r["id"])
        # A control message right after: it shows the delivery machinery runs meanwhile.
        ctag = f"ctl{time.time_ns()}"
        cdata, _ = message(ctag, "friend@remote.example", 2000)
        self.assertEqual(send(self.d, ["friend@remote.example"], cdata)[0], 250)
        harness.wait_until(lambda: self.sink_copies(ctag), 15, what="the control message at the sink")
        time.sleep(2)
        new = list(self.sink.messages)[before:]
        self.assertEqual(self.sink_copies(tag), [], "the message without its spool file was sent")
        for m in new:
            self.assertIn(f"<{ctag}@spool.example>".encode(), m.data,
                          f"the sink got something other than the control message: {m.data[:300]!r}")
            self.assertGreater(len(body_of(m.data)), 100)
        self.assertIsNotNone(self.row(tag), "the message without its spool file vanished from queue.db")
        log = self.d.log()[log_at:]
        mention = [l for l in log.splitlines() if r["id"] in l]
        self.assertTrue(mention, "carterod logged nothing about the message whose spool file is missing")
        self.assertTrue(any(re.search(r"spool|No such file|missing|error", l, re.I) for l in mention),
                        f"no error about the missing spool file in: {mention}")
        states = self.rcpt_states(r["id"])
        # A restart reports the row whose file is missing; `queue delete` still clears it.
        self.d.stop()
        log_at = len(self.d.log())
        self.d.start()
        missing = [l for l in self.d.log()[log_at:].splitlines() if r["id"] in l]
        self.assertTrue(any("missing" in l for l in missing),
                        f"the restart does not report the spooled row without its file: {missing}")
        self.st.ctl("queue", "delete", r["id"])
        harness.wait_until(lambda: self.row(tag) is None, 10, what=f"{tag}'s row deleted")
        mention += missing
        print(f"\nspool file removed by hand: lines about {r['id']}:\n  " + "\n  ".join(mention[:6]) +
              f"\n  queue.db recipients before the restart: {states}")


if __name__ == "__main__":
    harness.main()
