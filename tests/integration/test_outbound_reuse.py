#!/usr/bin/env python3
"""outbound_reuse: a cached (reused) outbound connection that the server dropped meanwhile —
closed after the last transaction (its idle timeout) or answering the next MAIL with 421 —
costs the next message nothing: it goes out at once on a fresh connection, with no deferral in
the delivery log. A server that drops fresh connections too ends in a normal deferral after
one reconnect (no loop)."""

import smtplib
import socket
import threading
import time
import unittest

import harness
from harness import DOMAIN, StateDir, Carterod

SENDER = f"app@{DOMAIN}"


class DroppingSink:
    """A remote MX on 127.0.0.1 that takes the first message of its first connection, then:
    mode "close": closes that connection right after the 250 (the client finds out on reuse);
    mode "421":   answers the next MAIL on it with 421 and closes;
    mode "always": closes it like "close", and every later connection is closed at its MAIL.
    Records (connection number, recipients) per message and the number of connections."""

    def __init__(self, mode: str):
        self.mode = mode
        self.connections = 0
        self.messages: list[tuple[int, list]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def stop(self):
        self._stop.set()
        for t in list(self._threads):
            t.join(5)
        self._sock.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                n = self.connections
            t = threading.Thread(target=self._serve, args=(conn, n), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, n):
        conn.settimeout(10)
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            out, buf = buf.split(b"\r\n", 1)
            return out.decode("utf-8", "replace")

        def send(text):
            conn.sendall(text.encode() + b"\r\n")

        taken, rcpts = 0, []
        try:
            send("220 drop.example ESMTP")
            while not self._stop.is_set():
                cmd = line()
                if cmd is None:
                    return
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    send("250-drop.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES")
                elif verb == "MAIL":
                    if self.mode == "always" and n > 1:
                        return  # every later connection: dropped before the MAIL reply
                    if taken and self.mode == "421":
                        send("421 4.4.2 drop.example Error: timeout exceeded")
                        return
                    rcpts = []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    rcpts.append(cmd[cmd.find("<") + 1:cmd.rfind(">")].lower())
                    send("250 2.1.5 Ok")
                elif verb == "DATA":
                    send("354 go ahead")
                    while b"\r\n.\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    buf = buf.split(b"\r\n.\r\n", 1)[1]
                    with self._lock:
                        self.messages.append((n, list(rcpts)))
                    taken += 1
                    send("250 2.0.0 Ok: queued")
                    if self.mode in ("close", "always"):
                        return  # our idle timeout, as far as the client can tell
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("250 2.0.0 Ok")
        except OSError:
            return
        finally:
            conn.close()

    def got(self, rcpt):
        with self._lock:
            return [n for n, r in self.messages if rcpt in r]


def submit(d, rcpt, msgid):
    msg = harness.make_message(f"<{msgid}>", sender=SENDER, to=rcpt)
    with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
        return s.sendmail(SENDER, [rcpt], msg)


class ReusedConnectionDropped(harness.CarteroTestCase):
    def run_pair(self, mode, tag):
        """First message on a fresh connection; the second one while that connection is parked
        for reuse (idle_time 2 s). Returns (sink, carterod, state)."""
        sink = DroppingSink(mode)
        self.addCleanup(sink.stop)
        st = StateDir(mailboxes={SENDER: "pw-app"})
        self.addCleanup(st.cleanup)
        d = self.watch(Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                                relayhost=f"127.0.0.1:{sink.port}"))
        d.start()
        self.addCleanup(d.stop)
        first, second = f"one-{tag}@remote.example", f"two-{tag}@remote.example"
        self.assertEqual(submit(d, first, f"{tag}1@it.example"), {})
        harness.wait_until(lambda: sink.got(first), 20, interval=0.02, what="the first message")
        t0 = time.monotonic()
        self.assertEqual(submit(d, second, f"{tag}2@it.example"), {})
        return sink, d, st, second, t0

    def check_reconnected(self, mode, tag):
        sink, d, st, second, t0 = self.run_pair(mode, tag)
        conns = harness.wait_until(lambda: sink.got(second), 10, interval=0.02,
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
        self.assertEqual(sink.got(second), [])
        self.assertEqual(d.log().count("event=outbound_reconnect"), 1)
        self.assertEqual(st.ctl("log", "search", second).stdout.count("deferred"), 1)


if __name__ == "__main__":
    harness.main()
