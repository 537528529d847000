#!/usr/bin/python3
"""limits: idle timeouts, connections per IP and in total, bad-command limit, command line
length, EOF in the middle of DATA, and 500 concurrent sessions."""

import concurrent.futures
import socket
import time

import harness
from harness import DOMAIN, HOST, SMTPClient, make_message

ALICE = f"alice@{DOMAIN}"


def start(test, mailboxes, config, kinds=("smtp",)):
    state = harness.StateDir(mailboxes=mailboxes, config=config)
    test.addCleanup(state.cleanup)
    d = test.watch(harness.Carterod(state, kinds=kinds))
    test.addCleanup(d.kill)
    d.start()
    return state, d


def connect_from(src, port, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((HOST, port))
    return s


def read_line(s, timeout=10):
    s.settimeout(timeout)
    buf = b""
    while b"\r\n" not in buf:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


class Timeouts(harness.CarteroTestCase):
    MAX_BAD = 3

    @classmethod
    def setUpClass(cls):
        cls.state = harness.StateDir(mailboxes={ALICE: "pw"},
                                     config={"timeout_command": "2s", "timeout_data": "3s",
                                             "max_bad_commands": cls.MAX_BAD})
        cls.d = harness.Carterod(cls.state, kinds=("smtp",))
        cls.daemons = [cls.d]
        try:
            cls.d.start()
        except Exception:
            cls.state.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.kill()
        cls.state.cleanup()

    def client(self):
        c = SMTPClient(self.d.smtp, timeout=10)
        self.addCleanup(c.close)
        return c

    def idle_reply(self, c, what):
        """The reply the server sends on its own after an idle period (bounded by 10 s)."""
        try:
            return c.reply()
        except (socket.timeout, TimeoutError):
            self.fail(f"{what}: no reply within 10 s of idling; expected 421 4.4.2 and close")
        except ConnectionError:
            self.fail(f"{what}: connection closed without a 421 4.4.2 reply")

    def test_idle_timeout_after_banner(self):
        c = self.client()
        t0 = time.monotonic()
        code, text = self.idle_reply(c, "idle after the banner (timeout_command=2s)")
        took = time.monotonic() - t0
        self.assertEqual((code, text[:5]), (421, "4.4.2"),
                         f"idle client with timeout_command=2s: expected 421 4.4.2, got {code} {text!r}")
        self.assertLess(took, 10, f"421 came after {took:.1f}s with timeout_command=2s")
        self.assertTrue(c.closed_by_server(5), "server must close the connection after its 421")

    def test_idle_timeout_in_session(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        code, text = self.idle_reply(c, "idle after MAIL (timeout_command=2s)")
        self.assertEqual((code, text[:5]), (421, "4.4.2"), f"idle after MAIL: {code} {text!r}")
        self.assertTrue(c.closed_by_server(5))

    def test_idle_timeout_in_data_delivers_nothing(self):
        before = self.state.messages(ALICE)
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: stalled\r\n\r\npartial")
        code, text = self.idle_reply(c, "idle in DATA (timeout_data=3s)")
        self.assertEqual((code, text[:5]), (421, "4.4.2"), f"idle in DATA (timeout_data=3s): {code} {text!r}")
        self.assertTrue(c.closed_by_server(5))
        time.sleep(1)
        self.assertEqual(self.state.messages(ALICE), before, "a timed-out partial message was delivered")

    def test_activity_keeps_session(self):
        c = self.client()
        c.ehlo()
        for _ in range(4):  # 4 x 1s = longer than timeout_command, but never idle 2s
            time.sleep(1)
            c.expect("NOOP", 250)

    def test_bad_command_limit(self):
        c = self.client()
        c.ehlo()
        codes = []
        closed = False
        for i in range(self.MAX_BAD + 3):
            try:
                code, text = c.cmd(f"BOGUS{i}")
            except (ConnectionError, OSError):
                closed = True
                break
            codes.append(code)
            if code == 421:
                closed = c.closed_by_server(5)
                break
        self.assertIn(421, codes, f"after {self.MAX_BAD} bad commands (max_bad_commands) the server "
                      f"must say 421 and close; replies were {codes}")
        self.assertLessEqual(codes.index(421), self.MAX_BAD,
                             f"421 came too late: replies {codes} with max_bad_commands={self.MAX_BAD}")
        self.assertEqual(codes[:self.MAX_BAD - 1], [500] * (self.MAX_BAD - 1))
        self.assertTrue(closed, "connection still open after 421")

    def test_long_command_line_500_556(self):
        c = self.client()
        c.ehlo()
        code, text = c.cmd("NOOP " + "x" * 600)
        self.assertEqual((code, text[:5]), (500, "5.5.6"), f"600-octet command line: {code} {text!r}")
        c.expect("NOOP", 250)  # the rest of the long line was not taken as a command
        code, text = c.cmd("MAIL FROM:<" + "a" * 3000 + "@remote.example>")
        self.assertIn(code, (500, 501, 553), f"3000-octet MAIL line: {code} {text!r}")
        c.expect("NOOP", 250)

    def test_long_line_without_crlf_is_bounded(self):
        c = self.client()
        c.ehlo()
        try:
            c.send(b"NOOP " + b"y" * 200000)
        except (ConnectionError, OSError):
            return  # closing on an endless line is fine
        c.send(b"\r\n")
        try:
            code, text = c.reply()
        except (ConnectionError, OSError):
            return
        self.assertIn(code, (500, 421), f"200 kB line: {code} {text!r}")

    def test_eof_in_data_delivers_nothing(self):
        before = self.state.messages(ALICE)
        qbefore = self.state.queue_snapshot()
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        c.expect("DATA", 354)
        c.send(make_message(msgid="<eof-in-data@it>")[:-10])
        c.sock.shutdown(socket.SHUT_WR)
        c.closed_by_server(5)
        c.close()
        time.sleep(1.5)
        self.assertEqual(self.state.messages(ALICE), before, "EOF in the middle of DATA delivered a message")
        self.assertEqual(self.state.queue_snapshot(), qbefore, "EOF in the middle of DATA left a queue entry")


class EOFInBDAT(harness.CarteroTestCase):
    def test_eof_in_bdat_delivers_nothing(self):
        state, d = start(self, {ALICE: "pw"}, {})
        c = SMTPClient(d.smtp)
        self.addCleanup(c.close)
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{ALICE}>", 250)
        msg = make_message(msgid="<eof-in-bdat@it>")
        c.send(f"BDAT {len(msg)}\r\n".encode() + msg)
        c.expect(None, 250)
        c.send(f"BDAT 1000 LAST\r\n".encode() + b"y" * 300)
        c.sock.shutdown(socket.SHUT_WR)
        c.closed_by_server(5)
        time.sleep(1.5)
        self.assertEqual(state.messages(ALICE), [], "EOF in the middle of BDAT delivered a message")


class Robustness(harness.CarteroTestCase):
    def test_abrupt_clients_do_not_hurt(self):
        """Resets, half TLS handshakes, garbage and binary commands: carterod stays up and the
        next client is served normally."""
        import struct
        state, d = start(self, {ALICE: "pw"}, {}, kinds=("smtp", "submission", "smtps"))
        rst = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST
        for i in range(30):
            for port in (d.smtp, d.smtps, d.submission):
                s = socket.create_connection((HOST, port), timeout=5)
                try:
                    if i % 3 == 0:
                        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40))  # half ClientHello
                    elif i % 3 == 1:
                        s.sendall(b"EHLO \x00\xff\xfe\r\nMAIL FROM:<\x00>\r\n" + bytes(range(256)) + b"\r\n")
                    else:
                        s.sendall(b"EHLO x\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<" + ALICE.encode()
                                  + b">\r\nDATA\r\n")
                        time.sleep(0.02)
                        s.sendall(b"Subject: cut\r\n\r\npartial")
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
                except OSError:
                    pass
                finally:
                    s.close()
        time.sleep(0.5)
        self.assertTrue(d.running(), "carterod died from abrupt or malformed clients")
        c = SMTPClient(d.smtp)
        self.addCleanup(c.close)
        c.ehlo()
        code, text = c.send_mail("a@remote.example", [ALICE], make_message(msgid="<after-abuse@it>"))
        self.assertEqual(code, 250)
        state.wait_msgid(ALICE, "<after-abuse@it>")
        self.assertEqual(len(state.messages(ALICE)), 1, "a cut-off message was delivered")


class ConnectionLimits(harness.CarteroTestCase):
    def test_per_ip_and_total(self):
        state, d = start(self, {ALICE: "pw"}, {"max_connections_per_ip": 3, "max_connections": 5})
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])

        def open_from(src):
            s = connect_from(src, d.smtp)
            socks.append(s)
            return read_line(s)

        for i in range(3):
            line = open_from("127.0.0.1")
            self.assertTrue(line.startswith(b"220"), f"connection {i + 1} from 127.0.0.1: {line!r}")
        line = open_from("127.0.0.1")
        self.assertTrue(line.startswith(b"421 4.7.0"),
                        f"4th connection from 127.0.0.1 with max_connections_per_ip=3: expected 421 4.7.0, got {line!r}")
        for i in range(2):
            line = open_from("127.0.0.2")
            self.assertTrue(line.startswith(b"220"), f"connection {i + 1} from 127.0.0.2: {line!r}")
        line = open_from("127.0.0.3")
        self.assertTrue(line.startswith(b"421 4.7.0"),
                        f"6th connection in total with max_connections=5: expected 421 4.7.0, got {line!r}")
        # freeing a slot lets a new connection in (bounded wait for the server to notice)
        socks[0].close()

        def retry():
            s = connect_from("127.0.0.1", d.smtp)
            l = read_line(s)
            s.close()
            return l.startswith(b"220")
        harness.wait_until(retry, 5, interval=0.3, what="a 220 after one of the 3 connections closed")


class ManySessions(harness.CarteroTestCase):
    N = 500
    SENDERS = 100

    def test_500_concurrent_sessions(self):
        state, d = start(self, {ALICE: "pw"},
                         {"max_connections_per_ip": 2000, "max_connections": 4000,
                          "timeout_command": "120s"})
        deadline = time.monotonic() + 120
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for i in range(self.N):
            self.assertLess(time.monotonic(), deadline, f"opening sessions took too long ({i} open)")
            socks.append(socket.create_connection((HOST, d.smtp), timeout=30))
        # every session gets its banner while all are open
        files = [s.makefile("rb") for s in socks]
        for i, f in enumerate(files):
            line = f.readline()
            self.assertTrue(line.startswith(b"220"), f"session {i}: banner {line!r}")
        for s in socks:
            s.sendall(b"EHLO many.example\r\n")
        for i, f in enumerate(files):
            while True:
                line = f.readline()
                self.assertTrue(line.startswith(b"250"), f"session {i}: EHLO reply {line!r}")
                if line[3:4] == b" ":
                    break
        self.assertLess(time.monotonic(), deadline)

        def send(i):
            s, f = socks[i], files[i]
            msg = make_message(msgid=f"<many-{i}@it.example>")
            s.sendall(f"MAIL FROM:<s{i}@remote.example>\r\nRCPT TO:<{ALICE}>\r\nDATA\r\n".encode())
            got = [f.readline()[:3] for _ in range(3)]
            if got != [b"250", b"250", b"354"]:
                return f"session {i}: MAIL/RCPT/DATA replies {got}"
            s.sendall(msg + b".\r\nQUIT\r\n")
            r = f.readline()
            return None if r.startswith(b"250") else f"session {i}: end of data {r!r}"

        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
            errors = [e for e in ex.map(send, range(self.SENDERS)) if e]
        self.assertEqual(errors, [], "some of the 100 messages failed")
        self.assertLess(time.monotonic(), deadline, "500-session test took longer than 120 s")
        # the idle 400 are still alive
        for i in range(self.SENDERS, self.N, 37):
            socks[i].sendall(b"NOOP\r\n")
            self.assertTrue(files[i].readline().startswith(b"250"), f"idle session {i} no longer answers")
        harness.wait_until(lambda: len(state.messages(ALICE)) >= self.SENDERS, 30,
                           what=f"{self.SENDERS} delivered messages")
        self.assertEqual(len(state.messages(ALICE)), self.SENDERS)


if __name__ == "__main__":
    harness.main()
