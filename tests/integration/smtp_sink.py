"""A scripted SMTP server for outbound tests: plays a remote MX on 127.0.0.x.

    with SmtpSink(host="127.0.0.2", rcpt_replies={"bad@x.test": "550 5.1.1 No such user"}) as sink:
        ... carterod delivers to it ...
        sink.wait_messages(1)
        sink.messages[0].mail_from, .rcpts, .data, .peer (the source address carterod bound)

Script knobs: banner, ehlo extensions (STARTTLS only with a cert), per-recipient replies,
data_reply (after the final dot; data_delay: a slow accepting server), a list of `connection_replies` consumed one per connection
(e.g. ["421 4.7.0 slow down", None] = the first connection gets 421 at the banner, the next is
normal), drop_in_data (close mid-DATA), banner_delay (a slow server); for cached-connection tests
close_after_message (close right after the 250 to DATA: an idle timeout as the client sees it),
reused_mail_reply (the reply to a MAIL on a connection that already took a message, then close)
and drop_mail_from_connection (connections numbered from N on are closed at MAIL). Bounded: every socket
has a timeout; stop() joins.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Received:
    peer: tuple
    helo: str
    mail_from: str
    rcpts: list
    data: bytes
    tls: bool
    at: float = 0.0  # time.monotonic() when the sink took it (just before its 250)
    connection: int = 0  # which connection (1 = the first the sink accepted) carried it


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    banner: str = "220 sink.test ESMTP"
    extensions: list = field(default_factory=lambda: ["PIPELINING", "8BITMIME", "SIZE 100000000",
                                                      "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"])
    rcpt_replies: dict = field(default_factory=dict)   # address -> reply line
    data_reply: str = "250 2.0.0 Ok: queued as SINK"
    connection_replies: list = field(default_factory=list)  # banner overrides, one per connection
    drop_in_data: bool = False
    banner_delay: float = 0.0  # seconds before the banner (a slow server: work piles up meanwhile)
    data_delay: float = 0.0  # seconds between the final dot and the reply (a slow accepting server)
    close_after_message: bool = False  # close the connection right after the 250 to DATA
    reused_mail_reply: str | None = None  # reply to MAIL once the connection took a message; close
    drop_mail_from_connection: int = 0  # connections numbered ≥ this: closed at MAIL, no reply
    certfile: str | None = None
    keyfile: str | None = None

    def __post_init__(self):
        self.messages: list[Received] = []
        self.connections = 0
        self.peers: list = []
        self.helos: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self.port))
        self.port = self._sock.getsockname()[1]
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self._accept.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self._accept.join(5)
        for t in self._threads:
            t.join(5)
        self._sock.close()

    def wait_messages(self, n: int, timeout: float = 20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        with self._lock:
            raise AssertionError(f"sink {self.host}:{self.port} got {len(self.messages)} of {n} "
                                 f"messages within {timeout}s ({self.connections} connections)")

    # --- server side ----------------------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self.peers.append(peer)
                override = self.connection_replies.pop(0) if self.connection_replies else None
            t = threading.Thread(target=self._serve, args=(conn, peer, override, number), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, peer, override, number):
        conn.settimeout(10)
        f = _LineIO(conn)
        try:
            if override:
                f.send(override)
                time.sleep(0.1)
                return
            if self.banner_delay:
                time.sleep(self.banner_delay)
            f.send(self.banner)
            helo, mail_from, rcpts, tls, taken = "", None, [], False, 0
            while not self._stop.is_set():
                line = f.readline()
                if line is None:
                    return
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    helo = line[5:].strip()
                    with self._lock:
                        self.helos.append(helo)
                    exts = list(self.extensions)
                    if self.certfile and not tls:
                        exts.append("STARTTLS")
                    lines = ["sink.test"] + exts if verb == "EHLO" else ["sink.test"]
                    f.send("\r\n".join(("250-" if i < len(lines) - 1 else "250 ") + l
                                       for i, l in enumerate(lines)))
                elif line.upper() == "STARTTLS" and self.certfile and not tls:
                    f.send("220 2.0.0 Ready")
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.load_cert_chain(self.certfile, self.keyfile)
                    conn = ctx.wrap_socket(conn, server_side=True)
                    f = _LineIO(conn)
                    tls = True
                elif verb == "MAIL":
                    if self.drop_mail_from_connection and number >= self.drop_mail_from_connection:
                        return
                    if taken and self.reused_mail_reply:
                        f.send(self.reused_mail_reply)
                        return
                    mail_from, rcpts = _path(line), []
                    f.send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    addr = _path(line)
                    r = self.rcpt_replies.get(addr, "250 2.1.5 Ok")
                    if r.startswith("2"):
                        rcpts.append(addr)
                    f.send(r)
                elif verb == "DATA":
                    if not rcpts:
                        f.send("554 5.5.1 No valid recipients")
                        continue
                    f.send("354 End data with <CR><LF>.<CR><LF>")
                    data = f.read_data(drop=self.drop_in_data)
                    if data is None:
                        return
                    if self.data_delay:
                        time.sleep(self.data_delay)
                    if self.data_reply.startswith("2"):
                        with self._lock:
                            self.messages.append(Received(peer, helo, mail_from, list(rcpts), data, tls,
                                                          time.monotonic(), number))
                        taken += 1
                    f.send(self.data_reply)
                    if self.close_after_message:
                        return
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    f.send("250 2.0.0 Ok")
                elif verb == "NOOP":
                    f.send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    f.send("221 2.0.0 Bye")
                    return
                else:
                    f.send("502 5.5.2 Command not recognized")
        except (OSError, ssl.SSLError):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass


def _path(line: str) -> str:
    a, b = line.find("<"), line.find(">")
    return line[a + 1:b].lower() if 0 <= a < b else ""


class _LineIO:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def send(self, text: str):
        self.sock.sendall(text.encode() + b"\r\n")

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > 1 << 20:
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_data(self, drop=False):
        while b"\r\n.\r\n" not in self.buf:
            if drop and len(self.buf) > 10:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        data, self.buf = self.buf.split(b"\r\n.\r\n", 1)
        lines = [l[1:] if l.startswith(b"..") else l for l in data.split(b"\r\n")]
        return b"\r\n".join(lines) + b"\r\n"
