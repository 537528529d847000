#!/usr/bin/env python3
"""carterod's control socket through carteroctl: queue list/show/hold/release/retry/delete/bounce,
log search, status, suppression; "not running" when carterod is stopped; hostile socket clients
(garbage, a 2 MiB line, many connections) do not hurt carterod."""

import json
import os
import socket
import stat
import time

import harness
from harness import Carterod, SMTPClient, StateDir, make_message

DOMAIN = harness.DOMAIN
# Remote recipients that stay in the queue: carterod relays to a port where nothing listens,
# so every attempt is a temporary failure (connection refused) and the message waits.
REMOTE = ("user1@remote.example", "user2@remote.example")


class Control(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = StateDir(mailboxes={f"alice@{DOMAIN}": "pw-alice"})
        cls.d = Carterod(cls.st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                         relayhost=f"127.0.0.1:{harness.free_port()}").start()
        cls.daemons = [cls.d]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.st.cleanup()

    # helpers --------------------------------------------------------------------------------
    def ctl_json(self, *args):
        p = self.st.ctl(*args, "--json")
        return json.loads(p.stdout)

    def send(self, rcpts, msgid, sender="bob@sender.example"):
        with SMTPClient(self.d.smtp) as c:
            c.ehlo()
            code, text = c.send_mail(sender, list(rcpts), make_message(msgid=msgid, to=rcpts[0]))
            self.assertEqual(code, 250, text)
            c.cmd("QUIT")

    def queued_id(self, msgid):
        rows = self.ctl_json("queue", "list", "--limit", "1000")["messages"]
        ids = [m["id"] for m in rows if m["message_id"] == msgid]
        self.assertEqual(len(ids), 1, f"{msgid} not in {rows}")
        return ids[0]

    def raw(self, line: bytes, timeout=5):
        """One request on a fresh connection; returns the decoded response (or None on EOF)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(os.path.join(self.st.path, "control.sock"))
            s.sendall(line)
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            return json.loads(buf.split(b"\n", 1)[0])

    # tests ----------------------------------------------------------------------------------
    def test_socket_mode(self):
        st = os.stat(os.path.join(self.st.path, "control.sock"))
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_mode & 0o777, 0o660)

    def test_queue_actions(self):
        msgid = f"<ctl-{time.time_ns()}@test.example>"
        self.send(REMOTE, msgid)
        qid = self.queued_id(msgid)

        out = self.st.ctl("queue", "list").stdout
        self.assertIn(qid, out)
        self.assertIn("bob@sender.example", out)
        self.assertIn(REMOTE[0], out)

        show = self.ctl_json("queue", "show", qid)
        self.assertEqual(sorted(r["recipient"] for r in show["recipients"]), sorted(REMOTE))
        self.assertIn(f"Message-ID: {msgid}", show["headers"])
        self.assertIn("Received:", show["headers"])
        self.assertNotIn("hello", show["headers"])  # the body is not shown
        self.assertIn(qid, self.st.ctl("queue", "show", qid).stdout)

        self.st.ctl("queue", "hold", qid)
        held = self.ctl_json("queue", "list", "--held")["messages"]
        self.assertIn(qid, [m["id"] for m in held])
        self.assertIn(f"{qid}!", self.st.ctl("queue", "list").stdout)
        self.st.ctl("queue", "release", qid)
        self.assertNotIn(qid, [m["id"] for m in self.ctl_json("queue", "list", "--held")["messages"]])

        before = int(time.time())
        self.assertEqual(self.ctl_json("queue", "retry", qid)["recipients"], 2)
        for r in self.ctl_json("queue", "show", qid)["recipients"]:
            self.assertGreaterEqual(r["next_attempt_at"], before)

        self.st.ctl("queue", "delete", qid)
        self.assertNotIn(qid, [m["id"] for m in self.ctl_json("queue", "list")["messages"]])
        p = self.st.ctl("queue", "show", qid, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no message", p.stderr)
        rows = self.ctl_json("log", "search", qid)["rows"]
        self.assertEqual(len(rows), 2)
        for r in rows:
            self.assertEqual((r["result"], r["reply"]), ("failed", "deleted by admin"))
        self.assertIn("deleted by admin", self.st.ctl("log", "search", qid).stdout)

    def test_bounce(self):
        msgid = f"<bounce-{time.time_ns()}@test.example>"
        self.send(REMOTE[:1], msgid)
        qid = self.queued_id(msgid)
        self.st.ctl("queue", "bounce", qid)
        # The message leaves the queue once the DSN to its sender is queued (a new message, to
        # carol@sender.example, that now waits at the unreachable relayhost).
        def gone():
            p = self.st.ctl("queue", "show", qid, check=False)
            return p.returncode != 0
        harness.wait_until(gone, 10, what="the bounced message settled and removed")
        listing = self.ctl_json("queue", "list")["messages"]
        self.assertTrue(any(m["sender"] == "" and "@sender.example" in str(m["recipients"])
                            for m in listing), f"no DSN to the sender queued: {listing}")
        rows = self.ctl_json("log", "search", qid)["rows"]
        self.assertIn("550 5.0.0 Bounced by the administrator", [x["reply"] for x in rows])
        # Attempts before the bounce may have logged deferrals (nothing listens at the relayhost).
        self.assertEqual([x["result"] for x in rows if x["result"] != "deferred"], ["bounced"])

    def test_log_search_local_delivery(self):
        msgid = f"<local-{time.time_ns()}@test.example>"
        self.send([f"alice@{DOMAIN}"], msgid, sender="carol@sender.example")
        self.st.wait_msgid(f"alice@{DOMAIN}", msgid)

        def found(q):
            rows = self.ctl_json("log", "search", q)["rows"]
            return [r for r in rows if r["message_id"] == msgid and r["result"] == "delivered"]

        rows = harness.wait_until(lambda: found(msgid), 10, what="the delivered row")
        qid = rows[0]["queue_id"]
        self.assertEqual(rows[0]["recipient"], f"alice@{DOMAIN}")
        self.assertEqual(rows[0]["sender"], "carol@sender.example")
        self.assertTrue(found(qid))
        self.assertTrue(found(msgid.strip("<>")))
        self.assertTrue(found(f"alice@{DOMAIN}"))
        self.assertTrue(found("carol@sender.example"))
        self.assertTrue(found(f"ALICE@{DOMAIN.upper()}"))

    def test_status(self):
        s = self.ctl_json("status")
        self.assertGreaterEqual(s["messages_accepted"], 0)
        self.assertIn("queued", s["queue"]["recipients"])
        self.assertIn("remote", s["queue"]["recipients"]["queued"])
        self.assertIn("carterod", self.st.ctl("status").stdout)

    def test_suppression(self):
        self.st.ctl("suppression", "add", "Someone@Example.org", "--reason", "asked us")
        rows = self.ctl_json("suppression", "list")["rows"]
        self.assertIn("someone@example.org", [r["address"] for r in rows])
        self.assertIn("asked us", self.st.ctl("suppression", "list").stdout)
        self.st.ctl("suppression", "remove", "someone@example.org")
        self.assertNotIn("someone@example.org",
                         [r["address"] for r in self.ctl_json("suppression", "list")["rows"]])
        p = self.st.ctl("suppression", "remove", "someone@example.org", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        p = self.st.ctl("suppression", "add", "not an address", check=False)
        self.assertEqual(p.returncode, 1)

    def test_usage_errors(self):
        p = self.st.ctl("queue", "list", "--limit", "5000", check=False)
        self.assertEqual(p.returncode, 2)
        p = self.st.ctl("queue", "show", check=False)
        self.assertEqual(p.returncode, 2)

    def test_hostile_clients(self):
        path = os.path.join(self.st.path, "control.sock")
        # garbage: an error answer, then the connection is closed
        r = self.raw(b"\x00\xffgarbage\n")
        self.assertFalse(r["ok"])
        self.assertIn("JSON", r["error"])
        # unknown op: an error naming it
        r = self.raw(b'{"id": 5, "op": "queue.explode"}\n')
        self.assertEqual((r["id"], r["ok"]), (5, False))
        self.assertIn("unknown op", r["error"])
        # wrong types
        r = self.raw(b'{"id": 6, "op": "queue.list", "args": {"limit": "many"}}\n')
        self.assertIn("limit", r["error"])
        # a 2 MiB line without newline: refused, connection closed
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            try:
                s.sendall(b'{"id":1,"op":"status","args":{"x":"' + b"a" * (2 * 1024 * 1024))
            except (BrokenPipeError, ConnectionResetError):
                pass
            data = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            self.assertIn(b"longer than", data)
        # many idle connections: the rest are refused with a clear line, others still served
        conns = []
        try:
            for _ in range(80):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.settimeout(5)
                for _ in range(100):  # a full listen backlog answers EAGAIN: wait for accepts
                    try:
                        c.connect(path)
                        break
                    except BlockingIOError:
                        time.sleep(0.02)
                conns.append(c)
            time.sleep(0.3)
            refused = 0
            for c in conns[64:]:
                try:
                    data = c.recv(4096)
                except socket.timeout:
                    data = b""
                refused += b"control clients already" in data
            self.assertGreater(refused, 0)
        finally:
            for c in conns:
                c.close()
        # carterod still serves SMTP and the socket
        harness.wait_until(lambda: self.raw(b'{"id":1,"op":"status"}\n')["ok"], 10,
                           what="status after the hostile clients")
        with SMTPClient(self.d.smtp) as c:
            c.ehlo()
            c.cmd("QUIT")
        self.assertTrue(self.d.running())


class NotRunning(harness.CarteroTestCase):
    def test_not_running(self):
        st = StateDir()
        self.addCleanup(st.cleanup)
        p = st.ctl("queue", "list", check=False)
        self.assertEqual(p.returncode, 1)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("carterod is not running", lines[0])
        # after a clean stop the socket is gone; after a kill -9 the stale file says the same
        d = self.watch(Carterod(st, kinds=("smtp",)))
        d.start()
        self.assertEqual(st.ctl("status").returncode, 0)
        d.stop()
        self.assertFalse(os.path.exists(os.path.join(st.path, "control.sock")))
        d.start()
        d.kill()
        p = st.ctl("status", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("carterod is not running", p.stderr)
        # a new carterod removes the stale socket; a second one on the same state dir refuses
        d.start()
        second = Carterod(st, kinds=("smtp",))
        with self.assertRaises(AssertionError) as e:
            second.start(timeout=10)
        self.assertIn("another carterod is running", str(e.exception))
        self.assertEqual(st.ctl("status").returncode, 0)
        d.stop()


if __name__ == "__main__":
    harness.main()
