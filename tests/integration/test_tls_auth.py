#!/usr/bin/python3
"""tls_auth: STARTTLS (smtp, submission), implicit TLS (smtps), AUTH PLAIN/LOGIN good and bad,
AUTH only after TLS, submission requires AUTH, TLS < 1.2 refused, STARTTLS command injection,
AUTH brute-force limit per IP."""

import re
import socket
import ssl
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # ssl.TLSVersion.TLSv1/TLSv1_1

import harness
from harness import DOMAIN, HOST, HOSTNAME, SMTPClient, make_message, ssl_client_context

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PW = "correct horse 1"


def features(lines):
    return {l.split()[0].upper(): l for l in lines if l.strip()}


class TLSAuth(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = harness.StateDir(mailboxes={ALICE: PW, BOB: "bob-pw"},
                                     config={"auth_failures_limit": 50, "auth_failures_slowdown": 50})
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

    def connect(self, port, tls=False):
        c = SMTPClient(port, tls_ctx=ssl_client_context() if tls else None, timeout=20)
        self.addCleanup(c.close)
        self.assertEqual(c.banner[0], 220, f"greeting: {c.banner}")
        return c

    def submission_tls(self):
        c = self.connect(self.d.submission)
        c.ehlo()
        c.starttls()
        return c

    # --------------------------------------------------------------------------- STARTTLS
    def test_starttls_smtp_verifies_with_generated_cert(self):
        c = self.connect(self.d.smtp)
        feats = features(c.ehlo())
        self.assertIn("STARTTLS", feats, f"smtp port must offer STARTTLS: {feats}")
        c.starttls(ssl_client_context(verify_cert=self.state.cert))  # hostname checked too
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        feats = features(c.ehlo())
        self.assertNotIn("STARTTLS", feats, "STARTTLS must not be offered again inside TLS")
        c.expect("MAIL FROM:<x@remote.example>", 250)
        c.expect(f"RCPT TO:<{BOB}>", 250)
        c.expect("DATA", 354)
        c.send(make_message(msgid="<starttls-smtp@it>") + b".\r\n")
        self.assertEqual(c.reply()[0], 250)
        got = self.state.wait_msgid(BOB, "<starttls-smtp@it>")[0]
        head = got.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
        self.assertRegex(head, rb"(?i)received:[^\n]*(\n[ \t][^\n]*)*(TLS|ESMTPS)",
                         "the Received header should record that TLS was used (ESMTPS or TLS)")

    def test_starttls_with_openssl_s_client(self):
        import subprocess
        p = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{self.d.submission}",
                            "-starttls", "smtp", "-servername", HOSTNAME, "-CAfile", self.state.cert,
                            "-verify_return_error", "-brief"],
                           input="EHLO x\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        self.assertIn("Verification: OK", out, f"openssl s_client -starttls smtp:\n{out}")
        self.assertRegex(out, r"Protocol version: TLSv1\.[23]")

    def test_implicit_tls_smtps(self):
        c = self.connect(self.d.smtps, tls=True)
        feats = features(c.ehlo())
        self.assertNotIn("STARTTLS", feats, "smtps (implicit TLS) must not offer STARTTLS")
        self.assertIn("AUTH", feats, f"smtps must offer AUTH: {feats}")
        self.assertIn("PLAIN", feats["AUTH"].upper())
        self.assertIn("LOGIN", feats["AUTH"].upper())
        code, text = c.cmd(f"MAIL FROM:<{ALICE}>")
        self.assertEqual((code, text[:5]), (530, "5.7.0"), f"MAIL without AUTH on smtps: {code} {text!r}")
        code, text = c.auth_plain(ALICE, PW)
        self.assertEqual((code, text[:5]), (235, "2.7.0"), f"AUTH PLAIN on smtps: {code} {text!r}")
        code, text = c.send_mail(ALICE, [BOB], make_message(msgid="<smtps@it>", sender=ALICE))
        self.assertEqual(code, 250, f"smtps message: {code} {text!r}")
        self.state.wait_msgid(BOB, "<smtps@it>")

    def test_plaintext_on_smtps_port_gets_no_smtp(self):
        s = socket.create_connection((HOST, self.d.smtps), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"EHLO x\r\n")
        try:
            data = s.recv(100)
        except (socket.timeout, ConnectionError):
            data = b""
        self.assertFalse(data.startswith(b"220") or data.startswith(b"250"),
                         f"smtps answered plaintext SMTP: {data!r}")

    def test_second_starttls_refused(self):
        c = self.connect(self.d.submission)
        c.ehlo()
        c.starttls()
        c.ehlo()
        code, text = c.cmd("STARTTLS")
        self.assertIn(code, (503, 554), f"STARTTLS inside TLS: {code} {text!r}")
        c.expect("NOOP", 250)

    # --------------------------------------------------------------------------- AUTH
    def test_auth_before_tls_538(self):
        c = self.connect(self.d.submission)
        feats = features(c.ehlo())
        self.assertIn("STARTTLS", feats)
        self.assertNotIn("AUTH", feats, "AUTH must not be advertised before TLS")
        code, text = c.auth_plain(ALICE, PW)
        self.assertEqual((code, text[:6]), (538, "5.7.11"), f"AUTH PLAIN before TLS: {code} {text!r}")
        code, text = c.cmd("AUTH LOGIN")
        self.assertEqual((code, text[:6]), (538, "5.7.11"), f"AUTH LOGIN before TLS: {code} {text!r}")
        code, text = c.cmd(f"MAIL FROM:<{ALICE}>")
        self.assertEqual((code, text[:5]), (530, "5.7.0"), f"MAIL without AUTH on submission: {code} {text!r}")

    def test_mail_without_auth_on_submission_530(self):
        c = self.submission_tls()
        feats = features(c.ehlo())
        self.assertIn("AUTH", feats, f"submission after STARTTLS must offer AUTH: {feats}")
        code, text = c.cmd(f"MAIL FROM:<{ALICE}>")
        self.assertEqual((code, text[:5]), (530, "5.7.0"), f"MAIL without AUTH: {code} {text!r}")
        code, text = c.cmd(f"RCPT TO:<{BOB}>")
        self.assertGreaterEqual(code, 500, f"RCPT without AUTH/MAIL: {code} {text!r}")

    def test_auth_plain_good(self):
        c = self.submission_tls()
        c.ehlo()
        code, text = c.auth_plain(ALICE, PW)
        self.assertEqual((code, text[:5]), (235, "2.7.0"), f"AUTH PLAIN good: {code} {text!r}")
        code, text = c.cmd("AUTH PLAIN " + "AGFsaWNlAHg=")
        self.assertEqual(code, 503, f"second AUTH in one session: {code} {text!r}")
        code, text = c.send_mail(ALICE, [BOB], make_message(msgid="<auth-plain@it>", sender=ALICE))
        self.assertEqual(code, 250, f"message after AUTH PLAIN: {code} {text!r}")

    def test_auth_plain_with_initial_response_prompt(self):
        import base64
        c = self.submission_tls()
        c.ehlo()
        code, text = c.cmd("AUTH PLAIN")
        self.assertEqual(code, 334, f"AUTH PLAIN without initial response: {code} {text!r}")
        code, text = c.cmd(base64.b64encode(f"\0{ALICE}\0{PW}".encode()).decode())
        self.assertEqual(code, 235, f"AUTH PLAIN via 334 prompt: {code} {text!r}")

    def test_auth_login_good(self):
        c = self.submission_tls()
        c.ehlo()
        code, text = c.auth_login(ALICE, PW)
        self.assertEqual((code, text[:5]), (235, "2.7.0"), f"AUTH LOGIN good: {code} {text!r}")

    def test_auth_bad_535(self):
        c = self.submission_tls()
        c.ehlo()
        code, text = c.auth_plain(ALICE, "wrong password")
        self.assertEqual((code, text[:5]), (535, "5.7.8"), f"AUTH PLAIN bad password: {code} {text!r}")
        code, text = c.auth_login(ALICE, "wrong password")
        self.assertEqual((code, text[:5]), (535, "5.7.8"), f"AUTH LOGIN bad password: {code} {text!r}")
        code, text = c.auth_plain(f"nosuchuser@{DOMAIN}", PW)
        self.assertEqual((code, text[:5]), (535, "5.7.8"), f"AUTH unknown user: {code} {text!r}")
        code, text = c.cmd("AUTH CRAM-MD5")
        self.assertEqual(code, 504, f"AUTH with an unsupported mechanism: {code} {text!r}")
        code, text = c.cmd("AUTH LOGIN")
        self.assertEqual(code, 334)
        code, text = c.cmd("*")
        self.assertEqual(code, 501, f"AUTH cancelled with '*': {code} {text!r}")
        code, text = c.cmd(f"MAIL FROM:<{ALICE}>")
        self.assertEqual(code, 530, f"MAIL after failed AUTH: {code} {text!r}")

    def test_auth_lowercase_login_name(self):
        c = self.submission_tls()
        c.ehlo()
        code, text = c.auth_plain(ALICE.upper(), PW)
        self.assertEqual(code, 235, f"AUTH with the address in upper case: {code} {text!r}")

    def test_long_auth_line_allowed(self):
        # RFC 4954 4: AUTH lines may be up to 12288 octets; a 3000-octet AUTH PLAIN with a
        # wrong password is an ordinary failed login, not "line too long"
        c = self.submission_tls()
        c.ehlo()
        code, text = c.auth_plain(ALICE, "p" * 2200)
        self.assertEqual((code, text[:5]), (535, "5.7.8"),
                         f"AUTH PLAIN line of ~3000 octets (limit 12288): {code} {text!r}")
        code, text = c.auth_plain(ALICE, PW)
        self.assertEqual(code, 235, f"AUTH after a long failed one: {code} {text!r}")

    # --------------------------------------------------------------------------- TLS versions
    def _try_tls(self, port, maxv, starttls=True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = maxv
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        s = socket.create_connection((HOST, port), timeout=10)
        self.addCleanup(s.close)
        if starttls:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO x\r\n")
            while True:
                l = f.readline()
                if l[3:4] != b"-":
                    break
            s.sendall(b"STARTTLS\r\n")
            l = f.readline()
            self.assertTrue(l.startswith(b"220"), f"STARTTLS: {l!r}")
        return ctx.wrap_socket(s, server_hostname=HOSTNAME)

    def test_tls_below_1_2_refused(self):
        for port, starttls, name in ((self.d.submission, True, "submission STARTTLS"),
                                     (self.d.smtp, True, "smtp STARTTLS"),
                                     (self.d.smtps, False, "smtps")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                old_versions = (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1)
            for v in old_versions:
                try:
                    t = self._try_tls(port, v, starttls)
                except ssl.SSLError as e:
                    reason = getattr(e, "reason", "") or str(e)
                    if "NO_PROTOCOLS_AVAILABLE" in reason or "NO_CIPHERS" in reason:
                        self.skipTest(f"this OpenSSL cannot even offer {v.name} ({reason}); "
                                      "TLS 1.2 minimum checked by openssl s_client -no_tls1_2 below")
                    continue  # refused by the server: good
                except (ConnectionError, socket.timeout):
                    continue
                self.fail(f"{name}: a {v.name} handshake succeeded ({t.version()}); TLS < 1.2 must be refused")
        t = self._try_tls(self.d.submission, ssl.TLSVersion.TLSv1_2)
        self.assertEqual(t.version(), "TLSv1.2", "a TLS 1.2 client must be served")

    def test_tls_below_1_2_refused_openssl(self):
        import subprocess
        p = subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{self.d.smtps}", "-tls1_1",
                            "-cipher", "ALL:@SECLEVEL=0", "-brief"],
                           input="", capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, f"openssl s_client -tls1_1 to smtps succeeded:\n{out}")
        self.assertNotRegex(out, r"(?m)Protocol version: TLSv1(\.[01])?$", out)

    # --------------------------------------------------------------------------- injection
    def _starttls_injection(self, port):
        c = self.connect(port)
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\n")
        code, text = c.reply()
        self.assertEqual(code, 220, f"STARTTLS: {code} {text!r}")
        # anything the server already sent after 220 would be the answer to the injected RSET
        c.sock.settimeout(0.5)
        try:
            extra = c.sock.recv(4096)
        except socket.timeout:
            extra = b""
        c.sock.settimeout(c.timeout)
        self.assertEqual(c.buf + extra, b"", "the server answered plaintext pipelined after STARTTLS")
        c.sock = ssl_client_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.send(b"EHLO client.example\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, f"first reply inside TLS: {code} {text!r}")
        self.assertIn("\n", text, f"first reply inside TLS is not the EHLO reply but {text!r}: "
                      "the injected RSET was answered (STARTTLS injection, CVE-2011-0411 class)")
        code, text = c.cmd("NOOP")
        self.assertEqual(code, 250)
        self.assertRegex(text, r"^2\.0\.0", f"NOOP reply out of sync: {text!r}")
        c.sock.settimeout(0.5)
        try:
            extra = c.sock.recv(4096)
        except (socket.timeout, ssl.SSLError):
            extra = b""
        self.assertEqual(c.buf + extra, b"", "extra replies: the session is out of sync")

    def test_starttls_injection_smtp(self):
        self._starttls_injection(self.d.smtp)

    def test_starttls_injection_submission(self):
        self._starttls_injection(self.d.submission)

    def test_starttls_resets_session(self):
        # STARTTLS inside a transaction may be refused (503, as Postfix does)...
        c = self.connect(self.d.smtp)
        c.ehlo()
        c.expect("MAIL FROM:<x@remote.example>", 250)
        code, text = c.cmd("STARTTLS")
        if code == 220:
            c.sock = ssl_client_context().wrap_socket(c.sock, server_hostname=HOSTNAME)
            code, text = c.cmd(f"RCPT TO:<{BOB}>")
            self.assertEqual(code, 503, f"RCPT after STARTTLS (transaction must be reset): {code} {text!r}")
        else:
            self.assertEqual(code, 503, f"STARTTLS inside a transaction: {code} {text!r}")
        # ...and after STARTTLS the client must say EHLO again (RFC 3207 4.2)
        c = self.connect(self.d.smtp)
        c.ehlo()
        c.starttls()
        code, text = c.cmd("MAIL FROM:<x@remote.example>")
        self.assertEqual((code, text[:5]), (503, "5.5.1"),
                         f"MAIL right after the TLS handshake, without a new EHLO: {code} {text!r}")


class AuthBruteForce(harness.CarteroTestCase):
    LIMIT = 3

    def test_auth_refused_after_limit(self):
        state = harness.StateDir(mailboxes={ALICE: PW},
                                 config={"auth_failures_limit": self.LIMIT,
                                         "auth_failures_slowdown": self.LIMIT})
        self.addCleanup(state.cleanup)
        d = self.watch(harness.Carterod(state, kinds=("submission", "smtps")))
        self.addCleanup(d.kill)
        d.start()
        failures = 0
        # failures spread over two connections: the count is per client IP, not per session
        for conn in range(2):
            c = SMTPClient(d.smtps, tls_ctx=ssl_client_context(), timeout=60)
            self.addCleanup(c.close)
            c.ehlo()
            for _ in range(2):
                if failures >= self.LIMIT:
                    break
                code, text = c.auth_plain(ALICE, f"guess {failures}")
                # below the limit every failure is an ordinary 535 (refusing earlier is wrong too)
                self.assertEqual((code, text[:5]), (535, "5.7.8"),
                                 f"bad AUTH #{failures + 1} of {self.LIMIT}: {code} {text!r}")
                failures += 1
            c.close()
        self.assertEqual(failures, self.LIMIT)
        # now even the right password must be refused from this IP
        try:
            c = SMTPClient(d.smtps, tls_ctx=ssl_client_context(), timeout=60)
        except (ConnectionError, ssl.SSLError, socket.timeout):
            pass  # refusing the connection outright is also a refusal
        else:
            self.addCleanup(c.close)
            try:
                if c.banner[0] == 220:
                    c.ehlo()
                    code, text = c.auth_plain(ALICE, PW)
                    self.assertNotEqual(code, 235, f"AUTH with the right password after {self.LIMIT} failures "
                                        f"(auth_failures_limit={self.LIMIT}) was accepted: {code} {text!r}")
                    self.assertGreaterEqual(code, 400)
            except (ConnectionError, ssl.SSLError):
                pass
        log = d.log()
        lines = [l for l in log.splitlines() if re.search(r"auth", l, re.I)
                 and re.search(r"fail|bad|denied|refused", l, re.I) and "127.0.0.1" in l]
        self.assertGreaterEqual(len(lines), self.LIMIT,
                                "every AUTH failure must be logged with the client IP")


if __name__ == "__main__":
    harness.main()
