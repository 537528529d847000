#!/usr/bin/python3
"""smtp_basics: ESMTP on the smtp (MX) port with swaks, smtplib, a raw socket and curl."""

import os
import re
import smtplib
import subprocess
import tempfile
import time
import uuid

import harness
from harness import DOMAIN, OTHER_DOMAIN, HOST, SMTPClient, make_message

MAX_RCPT = 5
MAX_SIZE = 100000
ENH = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}( |$)")
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "swaks", "curl", "bdat", "pipe"]


def addr(local, domain=DOMAIN):
    return f"{local}@{domain}"


def new_msgid():
    return f"<{uuid.uuid4().hex}@it.example>"


class SMTPBasics(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = harness.StateDir(
            domains=(DOMAIN, OTHER_DOMAIN),
            mailboxes={addr(u): "pw-" + u for u in USERS},
            config={"max_recipients": MAX_RCPT, "max_message_size": MAX_SIZE})
        cls.d = harness.Carterod(cls.state)
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
        c = SMTPClient(self.d.smtp)
        self.addCleanup(c.close)
        self.assertEqual(c.banner[0], 220, f"greeting: expected 220, got {c.banner}")
        return c

    def assertEnhanced(self, code_text, what):
        code, text = code_text
        self.assertRegex(text if isinstance(text, str) else text.decode(), ENH,
                         f"{what}: reply {code} {text!r} lacks an enhanced status code (RFC 2034)")

    # ------------------------------------------------------------------ swaks
    def test_swaks_delivers_one_message_with_received_header(self):
        msgid = new_msgid()
        p = subprocess.run(
            ["swaks", "--server", f"{HOST}:{self.d.smtp}", "--from", "sender@remote.example",
             "--to", addr("swaks"), "--header", f"Message-ID: {msgid}", "--timeout", "20",
             "--helo", "client.example"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"swaks failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
        self.assertRegex(p.stdout, r"<[-~]  250[ -]", "swaks saw no 250 reply after the data")
        msgs = self.state.wait_msgid(addr("swaks"), msgid)
        time.sleep(0.5)
        self.assertEqual(len(self.state.messages(addr("swaks"))), 1,
                         f"expected exactly one file in {self.state.maildir(addr('swaks'))}/new")
        m = msgs[0].replace(b"\r\n", b"\n")
        lines = m.split(b"\n")
        self.assertTrue(lines[0].startswith(b"Return-Path: <sender@remote.example>"),
                        f"first line should be Return-Path: <sender@remote.example>, got {lines[0]!r}")
        self.assertTrue(lines[1].lower().startswith(b"delivered-to: " + addr("swaks").encode()),
                        f"second line should be Delivered-To: {addr('swaks')}, got {lines[1]!r}")
        self.assertTrue(lines[2].startswith(b"Received: "), f"third line should be Received:, got {lines[2]!r}")
        head = m.split(b"\n\n", 1)[0]
        self.assertIn(b"client.example", head, "Received header should name the EHLO name client.example")
        self.assertIn(msgid.encode(), head)
        self.assertTrue(os.path.isdir(os.path.join(self.state.maildir(addr("swaks")), "tmp")))
        self.assertTrue(os.path.isdir(os.path.join(self.state.maildir(addr("swaks")), "cur")))

    # ------------------------------------------------------------------ smtplib
    def test_ehlo_keywords(self):
        with smtplib.SMTP(HOST, self.d.smtp, timeout=10) as s:
            code, _ = s.ehlo("client.example")
            self.assertEqual(code, 250)
            feats = s.esmtp_features
            for kw in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                       "chunking", "starttls"):
                self.assertIn(kw, feats, f"EHLO does not advertise {kw.upper()}: {sorted(feats)}")
            self.assertEqual(feats["size"].strip(), str(MAX_SIZE),
                             "SIZE should advertise the configured max_message_size")
            self.assertNotIn("auth", feats, "AUTH must not be offered before TLS")

    def test_helo(self):
        with smtplib.SMTP(HOST, self.d.smtp, timeout=10) as s:
            code, msg = s.helo("client.example")
            self.assertEqual(code, 250, msg)
            code, msg = s.mail("a@remote.example")
            self.assertEqual(code, 250, f"MAIL after HELO: {code} {msg!r}")

    def test_simple_commands(self):
        with smtplib.SMTP(HOST, self.d.smtp, timeout=10) as s:
            s.ehlo("client.example")
            r = s.noop()
            self.assertEqual(r[0], 250, f"NOOP: {r}")
            self.assertEnhanced(r, "NOOP")
            r = s.rset()
            self.assertEqual(r[0], 250, f"RSET: {r}")
            self.assertEnhanced(r, "RSET")
            r = s.docmd("HELP")
            self.assertEqual(r[0], 214, f"HELP: {r}")
            r1 = s.docmd("VRFY", addr("alice"))
            r2 = s.docmd("VRFY", addr("nosuchuser"))
            self.assertEqual(r1[0], 252, f"VRFY existing: {r1}")
            self.assertEqual(r2[0], 252, f"VRFY unknown: {r2}")
            self.assertEqual(r1[1].split()[0], r2[1].split()[0],
                             f"VRFY must answer alike for existing and unknown users: {r1} vs {r2}")
            self.assertEnhanced(r1, "VRFY")
            r = s.docmd("EXPN", "staff")
            self.assertEqual(r[0], 502, f"EXPN: {r}")
            self.assertEnhanced(r, "EXPN")
            r = s.docmd("FROBNICATE")
            self.assertEqual(r[0], 500, f"unknown command: {r}")
            self.assertEnhanced(r, "unknown command")
            r = s.docmd("QUIT")
            self.assertEqual(r[0], 221, f"QUIT: {r}")

    def test_mail_before_ehlo_503(self):
        c = self.client()
        code, text = c.cmd("MAIL FROM:<a@remote.example>")
        self.assertEqual((code, text[:5]), (503, "5.5.1"), f"MAIL before EHLO: {code} {text!r}")
        code, text = c.cmd("RCPT TO:<alice@example.test>")
        self.assertEqual(code, 503, f"RCPT before MAIL: {code} {text!r}")
        c.ehlo()
        code, text = c.cmd("DATA")
        self.assertEqual(code, 503, f"DATA before MAIL: {code} {text!r}")

    def test_unknown_mail_param_555(self):
        c = self.client()
        c.ehlo()
        code, text = c.cmd("MAIL FROM:<a@remote.example> FOO=BAR")
        self.assertEqual((code, text[:5]), (555, "5.5.4"), f"unknown MAIL parameter: {code} {text!r}")
        c.expect("MAIL FROM:<a@remote.example> BODY=8BITMIME SIZE=1000", 250)
        code, text = c.cmd("RCPT TO:<alice@example.test> FOO=BAR")
        self.assertEqual((code, text[:5]), (555, "5.5.4"), f"unknown RCPT parameter: {code} {text!r}")

    def test_unknown_user_550(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        code, text = c.cmd("RCPT TO:<nosuchuser@example.test>")
        self.assertEqual((code, text[:5]), (550, "5.1.1"), f"unknown local user: {code} {text!r}")
        c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")

    def test_postmaster_always_accepted(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        for r in ("<postmaster>", "<Postmaster>", "<POSTMASTER>", f"<postmaster@{DOMAIN}>",
                  f"<PostMaster@{DOMAIN.upper()}>", f"<postmaster@{OTHER_DOMAIN}>"):
            code, text = c.cmd(f"RCPT TO:{r}")
            self.assertEqual(code, 250, f"RCPT TO:{r} must be accepted (RFC 5321 4.5.1): {code} {text!r}")
            c.expect("RSET", 250)
            c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect("RCPT TO:<postmaster>", 250)
        c.expect("DATA", 354)
        c.send(make_message(subject="to postmaster") + b".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, f"message to <postmaster> (no postmaster set: holding mailbox): {code} {text!r}")

    def test_too_many_recipients_452(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        for u in USERS[:MAX_RCPT]:
            c.expect(f"RCPT TO:<{addr(u)}>", 250)
        code, text = c.cmd(f"RCPT TO:<{addr(USERS[MAX_RCPT])}>")
        self.assertEqual((code, text[:5]), (452, "4.5.3"),
                         f"recipient #{MAX_RCPT + 1} with max_recipients={MAX_RCPT}: {code} {text!r}")
        c.expect("DATA", 354)
        c.send(make_message() + b".\r\n")
        self.assertEqual(c.reply()[0], 250, "the first recipients still get the message")

    def test_oversize_552(self):
        before = len(self.state.messages(addr("frank")))
        c = self.client()
        c.ehlo()
        code, text = c.cmd(f"MAIL FROM:<a@remote.example> SIZE={MAX_SIZE * 2}")
        self.assertEqual((code, text[:5]), (552, "5.3.4"), f"SIZE= above the limit at MAIL: {code} {text!r}")
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{addr('frank')}>", 250)
        c.expect("DATA", 354)
        c.send(make_message(size=MAX_SIZE + 50000) + b".\r\n")
        code, text = c.reply()
        self.assertEqual((code, text[:5]), (552, "5.3.4"), f"message above max_message_size: {code} {text!r}")
        c.expect("NOOP", 250)  # still in sync
        time.sleep(1)
        self.assertEqual(len(self.state.messages(addr("frank"))), before, "an oversize message was delivered")

    def test_pipelining_replies_in_order(self):
        c = self.client()
        c.ehlo()
        c.send(f"MAIL FROM:<a@remote.example>\r\nRCPT TO:<{addr('pipe')}>\r\n"
               f"RCPT TO:<nosuchuser@{DOMAIN}>\r\nRCPT TO:<{addr('alice')}>\r\nNOOP\r\nDATA\r\n")
        got = [c.reply()[0] for _ in range(6)]
        self.assertEqual(got, [250, 250, 550, 250, 250, 354], "replies to one pipelined write, in order")
        msgid = new_msgid()
        c.send(make_message(msgid) + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        got = [c.reply()[0] for _ in range(4)]
        self.assertEqual(got, [250, 250, 250, 221], "end of data + RSET + NOOP + QUIT pipelined")
        self.state.wait_msgid(addr("pipe"), msgid)

    def test_bdat(self):
        c = self.client()
        c.ehlo()
        msgid = new_msgid()
        msg = make_message(msgid, body="line one\r\n.\r\n..two dots\r\nlast\r\n")
        a, b = msg[:37], msg[37:]
        c.send("MAIL FROM:<a@remote.example>\r\n")
        c.expect(None, 250)
        c.expect(f"RCPT TO:<{addr('bdat')}>", 250)
        c.send(f"BDAT {len(a)}\r\n".encode() + a)
        code, text = c.reply()
        self.assertEqual(code, 250, f"BDAT chunk 1: {code} {text!r}")
        c.send(f"BDAT {len(b)} LAST\r\n".encode() + b)
        code, text = c.reply()
        self.assertEqual(code, 250, f"BDAT LAST: {code} {text!r}")
        c.expect("NOOP", 250)
        got = self.state.wait_msgid(addr("bdat"), msgid)[0].replace(b"\r\n", b"\n")
        self.assertIn(b"\nline one\n.\n..two dots\nlast\n", got,
                      "BDAT data must be stored verbatim (no dot-unstuffing)")

    def test_bdat_zero_last(self):
        c = self.client()
        c.ehlo()
        msgid = new_msgid()
        msg = make_message(msgid)
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{addr('bdat')}>", 250)
        c.send(f"BDAT {len(msg)}\r\n".encode() + msg + b"BDAT 0 LAST\r\n")
        self.assertEqual(c.reply()[0], 250)
        code, text = c.reply()
        self.assertEqual(code, 250, f"BDAT 0 LAST: {code} {text!r}")
        self.state.wait_msgid(addr("bdat"), msgid)

    def test_smtplib_sendmail_8bit_and_smtputf8(self):
        msgid = new_msgid()
        body = ("From: <jos\u00e9@remote.example>\r\nTo: <carol@example.test>\r\n"
                f"Subject: caf\u00e9\r\nMessage-ID: {msgid}\r\n\r\nna\u00efve \u00fcber\r\n").encode()
        with smtplib.SMTP(HOST, self.d.smtp, timeout=10) as s:
            s.ehlo("client.example")
            refused = s.sendmail("jos\u00e9@remote.example", [addr("carol")], body,
                                 mail_options=["SMTPUTF8", "BODY=8BITMIME"])
            self.assertEqual(refused, {})
        got = self.state.wait_msgid(addr("carol"), msgid)[0]
        self.assertIn("na\u00efve \u00fcber".encode(), got, "8-bit body altered")

    def test_null_sender_accepted(self):
        c = self.client()
        c.ehlo()
        msgid = new_msgid()
        code, text = c.cmd("MAIL FROM:<>")
        self.assertEqual(code, 250, f"MAIL FROM:<> (bounces) must be accepted by an MX: {code} {text!r}")
        c.expect(f"RCPT TO:<{addr('dave')}>", 250)
        c.expect("DATA", 354)
        c.send(make_message(msgid, sender="MAILER-DAEMON@remote.example") + b".\r\n")
        c.expect(None, 250)
        got = self.state.wait_msgid(addr("dave"), msgid)[0]
        self.assertTrue(got.startswith(b"Return-Path: <>"), f"null sender's Return-Path: {got[:40]!r}")

    def test_recipient_case_insensitive(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        for r in (f"ERIN@{DOMAIN}", f"erin@{DOMAIN.upper()}", f"Erin@Example.Test"):
            code, text = c.cmd(f"RCPT TO:<{r}>")
            self.assertEqual(code, 250, f"RCPT TO:<{r}> (mailbox erin@{DOMAIN}): {code} {text!r}")

    def test_sequence_errors(self):
        c = self.client()
        code, text = c.cmd("EHLO")
        self.assertEqual(code, 501, f"EHLO without a domain: {code} {text!r}")
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        code, text = c.cmd("MAIL FROM:<b@remote.example>")
        self.assertEqual((code, text[:5]), (503, "5.5.1"), f"nested MAIL: {code} {text!r}")
        code, text = c.cmd("DATA")
        self.assertIn(code, (503, 554), f"DATA without RCPT: {code} {text!r}")
        code, text = c.cmd("MAIL FROM:<a@remote.example> SIZE=abc")
        self.assertGreaterEqual(code, 500, f"MAIL with SIZE=abc: {code} {text!r}")
        c.expect("RSET", 250)
        code, text = c.cmd("MAIL FROM:a@remote.example")
        self.assertIn(code, (250, 501), f"MAIL without angle brackets: {code} {text!r}")

    def test_dot_unstuffing(self):
        c = self.client()
        c.ehlo()
        msgid = new_msgid()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{addr('dave')}>", 250)
        c.expect("DATA", 354)
        c.send(f"Message-ID: {msgid}\r\nSubject: dots\r\n\r\n..one dot\r\n...two dots\r\n.\r\n".encode())
        c.expect(None, 250)
        got = self.state.wait_msgid(addr("dave"), msgid)[0].replace(b"\r\n", b"\n")
        self.assertIn(b"\n.one dot\n..two dots\n", got, "DATA must be dot-unstuffed (RFC 5321 4.5.2)")

    def test_greeting_and_ehlo_name_the_host(self):
        c = self.client()
        self.assertTrue(c.banner[1].startswith(harness.HOSTNAME),
                        f"greeting must start with the host name {harness.HOSTNAME} (RFC 5321 4.2): {c.banner}")
        c.send("EHLO client.example\r\n")
        code, text = c.reply()
        self.assertTrue(text.split("\n")[0].startswith(harness.HOSTNAME),
                        f"EHLO reply must start with the host name: {text!r}")

    def test_bdat_oversize_552(self):
        before = len(self.state.messages(addr("frank")))
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.example>", 250)
        c.expect(f"RCPT TO:<{addr('frank')}>", 250)
        chunk = (b"x" * 68 + b"\r\n") * 850  # 59 500 octets in lines of 70
        codes = []
        for last in (False, True):
            c.send(f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode() + chunk)
            codes.append(c.reply())
        self.assertEqual((codes[-1][0], codes[-1][1][:5]), (552, "5.3.4"),
                         f"BDAT chunks totalling {2 * len(chunk)} > max_message_size={MAX_SIZE}: {codes}")
        c.expect("RSET", 250)
        time.sleep(0.5)
        self.assertEqual(len(self.state.messages(addr("frank"))), before, "oversize BDAT message delivered")

    def test_large_pipelined_batch(self):
        """5000 commands in one write while the client reads concurrently: every reply arrives,
        in order (no deadlock when the server's replies fill the socket buffers)."""
        import threading
        c = self.client()
        c.ehlo()
        n = 5000
        batch = b"NOOP\r\n" * (n - 1) + b"RSET\r\n"
        t = threading.Thread(target=c.send, args=(batch,), daemon=True)
        t.start()
        codes = [c.reply()[0] for _ in range(n)]
        t.join(10)
        self.assertEqual(codes.count(250), n, f"replies to {n} pipelined NOOP/RSET: {sorted(set(codes))}")
        c.expect("NOOP", 250)

    def test_message_just_under_limit_accepted(self):
        msgid = new_msgid()
        c = self.client()
        c.ehlo()
        body = make_message(msgid, size=MAX_SIZE - 2000)
        self.assertLess(len(body), MAX_SIZE)
        code, text = c.send_mail("a@remote.example", [addr("frank")], body)
        self.assertEqual(code, 250, f"a {len(body)}-octet message with max_message_size={MAX_SIZE}: {code} {text!r}")
        code, text = c.cmd(f"MAIL FROM:<a@remote.example> SIZE={MAX_SIZE}")
        self.assertEqual(code, 250, f"SIZE= exactly max_message_size: {code} {text!r}")
        self.state.wait_msgid(addr("frank"), msgid)

    # ------------------------------------------------------------------ curl
    def test_curl_smtp_upload(self):
        msgid = new_msgid()
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(make_message(msgid, to=addr("curl")))
            f.flush()
            p = subprocess.run(["curl", "-sS", "--max-time", "20", f"smtp://{HOST}:{self.d.smtp}",
                                "--mail-from", "sender@remote.example", "--mail-rcpt", addr("curl"),
                                "-T", f.name], capture_output=True, text=True, timeout=40)
        self.assertEqual(p.returncode, 0, f"curl smtp:// failed (exit {p.returncode}): {p.stderr}")
        self.assertEqual(len(self.state.wait_msgid(addr("curl"), msgid)), 1)


if __name__ == "__main__":
    harness.main()
