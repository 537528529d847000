#!/usr/bin/python3
"""smuggling: SMTP smuggling (bare LF / bare CR end-of-data look-alikes) never splits a message.

For each fake end marker, the client sends a first message, the fake marker, a complete second
SMTP transaction (MAIL/RCPT/DATA/message), and then the real <CR><LF>.<CR><LF>. The server may
refuse the whole thing (550 5.6.0) or accept it as one message; it must never store the
smuggled message as a message of its own, and the session must stay in sync."""

import socket
import time

import harness
from harness import DOMAIN, SMTPClient

SMUGGLED_RCPT = f"smuggled@{DOMAIN}"

ENDS = [
    ("LF.LF", b"\n.\n"),
    ("CR.CR", b"\r.\r"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CRLF.LF", b"\r\n.\n"),
    ("CRLF.CR", b"\r\n.\r"),
    ("LF.CR", b"\n.\r"),
    ("CRLF.CRCRLF", b"\r\n.\r\r\n"),
    ("CRLF.NUL CRLF", b"\r\n.\x00\r\n"),
]


def victim(i):
    return f"victim{i}@{DOMAIN}"


class Smuggling(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        boxes = {victim(i): "pw" for i in range(len(ENDS))}
        boxes[SMUGGLED_RCPT] = "pw"
        cls.state = harness.StateDir(mailboxes=boxes)
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

    def _pending(self, c, wait=1.0):
        c.sock.settimeout(wait)
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            data = b""
        finally:
            c.sock.settimeout(c.timeout)
        return c.buf + data

    def _one(self, i, name, end):
        rcpt = victim(i)
        first_id = f"<first-{i}@it.example>"
        second_id = f"<smuggled-{i}@it.example>"
        c = SMTPClient(self.d.smtp)
        self.addCleanup(c.close)
        c.ehlo()
        c.expect("MAIL FROM:<sender@remote.example>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        payload = (f"From: <sender@remote.example>\r\nTo: <{rcpt}>\r\nSubject: first\r\n"
                   f"Message-ID: {first_id}\r\n\r\nfirst message body\r\n").encode().rstrip(b"\r\n")
        payload += end
        payload += (f"MAIL FROM:<smuggler@remote.example>\r\nRCPT TO:<{SMUGGLED_RCPT}>\r\nDATA\r\n"
                    f"From: <admin@{DOMAIN}>\r\nTo: <{SMUGGLED_RCPT}>\r\nSubject: smuggled\r\n"
                    f"Message-ID: {second_id}\r\n\r\nsmuggled body\r\n").encode()
        payload += b"\r\n.\r\n"
        c.send(payload)
        code, text = c.reply()
        self.assertIn(code, (250, 550),
                      f"[{name}] end of data: expected 250 (one message) or 550 5.6.0 (refused), got {code} {text!r}")
        if code == 550:
            self.assertTrue(text.startswith("5.6.0"), f"[{name}] refusal should be 550 5.6.0, got {code} {text!r}")
        extra = self._pending(c)
        self.assertEqual(extra, b"", f"[{name}] more replies after the end of data: the fake end marker "
                         f"was taken as end of data and the smuggled commands were executed: {extra!r}")
        code2, text2 = c.cmd("NOOP")
        self.assertEqual(code2, 250, f"[{name}] NOOP after the message: {code2} {text2!r} (session out of sync)")
        # a normal transaction still works in the same session
        c.expect("MAIL FROM:<sender@remote.example>", 250)
        c.expect(f"RCPT TO:<{rcpt}>", 250)
        c.expect("DATA", 354)
        c.send(f"Subject: after\r\nMessage-ID: <after-{i}@it.example>\r\n\r\nok\r\n.\r\n".encode())
        c.expect(None, 250)
        c.cmd("QUIT")
        self.state.wait_msgid(rcpt, f"<after-{i}@it.example>")
        time.sleep(0.3)
        msgs = [m for m in self.state.read_messages(rcpt) if f"<after-{i}@it.example>".encode() not in m]
        self.assertLessEqual(len(msgs), 1, f"[{name}] {len(msgs)} messages stored for the first transaction")
        self.assertEqual(len(msgs), 1 if code == 250 else 0,
                         f"[{name}] reply {code} but {len(msgs)} message(s) stored")
        for m in msgs:
            # the smuggled text may be inside the one message, but not as a message of its own
            self.assertIn(first_id.encode(), m, f"[{name}] stored message is not the first message")
        self.assertEqual(self.state.with_msgid(SMUGGLED_RCPT, second_id), [],
                         f"[{name}] the smuggled message was delivered to {SMUGGLED_RCPT}")

    def test_each_fake_end_marker(self):
        for i, (name, end) in enumerate(ENDS):
            with self.subTest(end=name):
                self._one(i, name, end)
        self.assertEqual(self.state.messages(SMUGGLED_RCPT), [], "smuggled messages were delivered")


if __name__ == "__main__":
    harness.main()
