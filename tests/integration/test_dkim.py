#!/usr/bin/env python3
"""DKIM: Cartero's signer and verifier (daemon/mailauth, driven through tests/tools/dkim_tool)
held against dkimpy, an independent implementation, on a generated corpus:

  (a) Cartero signs (rsa-sha256, ed25519-sha256) varied messages → dkimpy verifies, and so do we;
  (b) dkimpy signs (relaxed/relaxed, simple/simple, relaxed/simple, simple/relaxed; rsa and
      ed25519; with and without l=; several h= sets) → Cartero's verifier says pass;
  (c) every signed message tampered (body, a signed header, a second From on top) → both say
      it does not pass (an l= signature may legitimately survive content appended after l=:
      then both must still agree).

Every case must agree; the summary line gives the corpus size and the agreement count.
Also end to end: `carteroctl dkim generate` prints a record that, with the key file it wrote,
signs a message dkimpy verifies; config.db names the key file relative to the state dir, so a
state dir moved elsewhere (as image/build does) still signs: carterod run from the new place
DKIM-signs outbound mail that dkimpy verifies.
"""

import base64
import itertools
import os
import re
import smtplib
import sqlite3
import subprocess
import tempfile
import time
import unittest

import harness
from smtp_sink import SmtpSink

try:
    import dkim  # python3-dkim (dkimpy)
    import nacl.signing  # noqa: F401  (dkimpy's ed25519 support)
except ImportError as e:  # pragma: no cover
    print(f"skipping: {e} (run under /usr/bin/python3 with python3-dkim installed)")
    raise SystemExit(77)

DOMAIN = "example.test"


def tool():
    p = os.path.join(harness.build_dir(), "tests", "tools", "dkim_tool")
    if not os.access(p, os.X_OK):
        raise RuntimeError(f"dkim_tool not found at {p} (build the dkim_tool target)")
    return p


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], input=input, capture_output=True, check=True,
                          timeout=60).stdout


class Key:
    """A key pair in the forms both sides want: PEM for dkim_tool, dkimpy's private form, the
    TXT record."""

    def __init__(self, alg, tmp, name):
        self.alg = alg
        self.selector = name
        self.path = os.path.join(tmp, name + ".pem")
        if alg == "rsa":
            # PKCS#1 ("RSA PRIVATE KEY"): the form dkimpy parses; OpenSSL reads it too.
            pem = openssl("genrsa", "-traditional", "2048")
            spki = openssl("pkey", "-pubout", "-outform", "DER", input=pem)
            self.dkimpy_private = pem
            self.record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)
        else:
            pem = openssl("genpkey", "-algorithm", "ED25519")
            der = openssl("pkey", "-outform", "DER", input=pem)
            spki = openssl("pkey", "-pubout", "-outform", "DER", input=pem)
            # dkimpy wants the 32-octet seed in base64; the record the raw public key (RFC 8463)
            self.dkimpy_private = base64.b64encode(der[-32:])
            self.record = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(spki[-32:])
        with open(self.path, "wb") as f:
            f.write(pem)
        self.name = f"{name}._domainkey.{DOMAIN}"

    @property
    def a(self):
        return b"rsa-sha256" if self.alg == "rsa" else b"ed25519-sha256"


def frame(messages):
    return b"".join(str(len(m)).encode() + b"\n" + m for m in messages)


def unframe(data):
    out, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        n = int(data[i:nl])
        out.append(data[nl + 1:nl + 1 + n])
        i = nl + 1 + n
    return out


# ---------------------------------------------------------------------------------------------
# the corpus


def messages():
    """Varied messages, CRLF: bodies (empty, blank lines only, trailing blank lines, whitespace,
    8-bit, long lines, no final CRLF) × header shapes (folded, odd spacing, case, From-like
    fields, two From fields)."""
    bodies = [
        b"",
        b"\r\n",
        b"\r\n\r\n\r\n",
        b"Hello.\r\n",
        b"Hello.\r\n\r\n\r\n\r\n",
        b"  leading and trailing  \t \r\nmid  \t  space\r\n \t\r\n",
        b"8-bit: \xc3\xa9t\xc3\xa9 \xe2\x82\xac 100\r\nlatin1: \xe9\r\n",
        b"x" * 990 + b"\r\n" + b"y" * 500 + b"\r\n",
        b"no final line end",
        b"a\r\n\r\nb\r\n\r\nc\r\n",
        b"".join(b"line %d with some text\r\n" % i for i in range(200)),
        b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n--b--\r\n",
        b".leading dot\r\n..two dots\r\n",
        b"\tTab start\r\n",
    ]
    headers = [
        [b"From: Alice <alice@example.test>", b"To: bob@example.org", b"Subject: hello",
         b"Date: Mon, 23 Nov 2026 10:00:00 +0000", b"Message-ID: <1@example.test>"],
        [b"Received: from a by b; Mon, 23 Nov 2026 10:00:00 +0000",
         b"Received: from c by d; Mon, 23 Nov 2026 09:59:00 +0000",
         b"from: alice@example.test", b"SUBJECT:  odd   spacing\t ", b"To:bob@example.org",
         b"MIME-Version: 1.0", b"Content-Type: text/plain; charset=utf-8"],
        [b"From: \"A very long display name that goes on and on\"\r\n"
         b" <alice@example.test>",
         b"Subject: a long subject line that is folded\r\n\tonce with a tab\r\n   and once "
         b"with spaces  ",
         b"To: one@example.org,\r\n two@example.org,\r\n\tthree@example.org",
         b"Cc: cc@example.org", b"Reply-To: r@example.test"],
        [b"From: alice@example.test", b"Subject: From-like fields", b"Resent-From: x@example.test",
         b"X-Original-From: y@example.test", b"Sender: s@example.test",
         b"X-From-Like: From: z@example.test", b"List-Unsubscribe: <mailto:u@example.test>",
         b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Id: <l.example.test>"],
        [b"From: first@example.test", b"From: second@example.test", b"Subject: two From fields",
         b"To: bob@example.org"],
        [b"From: alice@example.test", b"Subject:", b"X-Empty: ", b"To: bob@example.org",
         b"Subject: a second subject"],
    ]
    out = []
    for h, b in itertools.product(headers, bodies):
        out.append(b"\r\n".join(h) + b"\r\n\r\n" + b)
    return out


def from_count(msg):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return len(re.findall(rb"(?im)^from\s*:", head))


def tamper_body(msg):
    head, _, body = msg.partition(b"\r\n\r\n")
    return head + b"\r\n\r\nX" + body + b"tampered\r\n"


def tamper_header(msg):
    # change the (bottom-most) Subject, which every signature in the corpus signs
    idx = [m.start() for m in re.finditer(rb"(?im)^subject\s*:", msg)][-1]
    colon = msg.index(b":", idx)
    return msg[:colon + 1] + b" TAMPERED" + msg[colon + 1:]


def add_from(msg):
    return b"From: Mallory <ceo@example.test>\r\n" + msg


TAMPERS = [("body", tamper_body), ("signed header", tamper_header), ("second From", add_from)]


class DKIMAgreement(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cartero-dkim-")
        cls.keys = {alg: Key(alg, cls.tmp, f"sel{alg}") for alg in ("rsa", "ed25519")}
        cls.dns = {k.name.encode() + b".": k.record for k in cls.keys.values()}
        cls.total = 0
        cls.agree = 0
        cls.tally = {}

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def dnsfunc(self, name, timeout=5):
        return self.dns.get(name if name.endswith(b".") else name + b".")

    def dkimpy_verify(self, msg):
        try:
            return dkim.verify(msg, dnsfunc=self.dnsfunc)
        except Exception:  # dkimpy raises on some malformed input: that is "not pass"
            return False

    def ours_verify(self, msgs):
        args = [tool(), "verify-batch"]
        for k in self.keys.values():
            args += ["--dns", k.name + "=" + k.record.decode()]
        p = subprocess.run(args, input=frame(msgs), capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), len(msgs))
        return lines

    def ours_sign(self, key, msgs):
        p = subprocess.run([tool(), "sign-batch", "--domain", DOMAIN, "--selector", key.selector,
                            "--algorithm", key.alg, "--key", key.path],
                           input=frame(msgs), capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return unframe(p.stdout)

    def compare(self, group, msgs, expect_pass):
        """Both verifiers on every message; they must agree; and where expect_pass says so
        (True/False; None = no expectation), both must say that."""
        ours = self.ours_verify(msgs)
        failures = []
        for i, (m, line) in enumerate(zip(msgs, ours)):
            o = line.split(",")[0] == "pass/none" and len(line.split(",")) == 1
            d = self.dkimpy_verify(m)
            type(self).total += 1
            t = self.tally.setdefault(group, [0, 0])
            t[0] += 1
            if o == d:
                type(self).agree += 1
                t[1] += 1
            want = expect_pass[i] if isinstance(expect_pass, list) else expect_pass
            if o != d or (want is not None and o != want):
                failures.append(f"{group} #{i}: cartero={line} dkimpy={d} expected={want}\n"
                                f"{m[:600]!r}")
        self.assertEqual(len(failures), 0, f"{len(failures)} disagreements, first:\n" +
                         "\n".join(failures[:3]))

    # (a) ---------------------------------------------------------------------------------
    def test_a_ours_verified_by_dkimpy(self):
        for alg, key in self.keys.items():
            signed = self.ours_sign(key, messages())
            self.compare(f"(a) cartero {alg} signs", signed, True)
            for name, f in TAMPERS:
                self.compare(f"(c) cartero {alg} signs, {name} tampered",
                             [f(m) for m in signed], False)

    # (b) ---------------------------------------------------------------------------------
    def test_b_dkimpy_verified_by_ours(self):
        canons = [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple"),
                  (b"simple", b"relaxed")]
        header_sets = [None, [b"from", b"subject"],
                       [b"from", b"to", b"subject", b"date", b"x-missing", b"from"]]
        # single-From messages: a signature over one From of two is refused by both, by design
        corpus = [m for m in messages() if from_count(m) == 1]
        variant = 0
        for alg, key in self.keys.items():
            for (hc, bc), hs, length in itertools.product(canons, header_sets, (False, True)):
                # a deterministic spread of the messages over the variants keeps the run short
                picked = corpus[variant % 5::5][:14]
                variant += 1
                signed = []
                for m in picked:
                    sig = dkim.sign(m, key.selector.encode(), DOMAIN.encode(), key.dkimpy_private,
                                    canonicalize=(hc, bc), include_headers=hs, length=length,
                                    signature_algorithm=key.a)
                    signed.append(sig + m)
                label = f"(b) dkimpy {alg} {hc.decode()}/{bc.decode()} h={'default' if hs is None else len(hs)}" \
                        f"{' l=' if length else ''}"
                self.compare(label, signed, True)
                for name, f in TAMPERS:
                    tampered = [f(m) for m in signed]
                    # content appended after l= is not covered: not a failure for either side
                    want = None if (length and name == "body") else False
                    self.compare(f"(c) {label}, {name} tampered", tampered, want)

    # summary -----------------------------------------------------------------------------
    def test_z_summary(self):
        for g, (n, a) in sorted(self.tally.items()):
            print(f"  {g}: {a}/{n} agree")
        print(f"DKIM corpus: {self.total} cases, {self.agree} agree with dkimpy "
              f"({self.total - self.agree} disagree)")
        self.assertGreaterEqual(self.total, 500)
        self.assertEqual(self.total, self.agree)


class CarteroctlDKIM(unittest.TestCase):
    def test_generate_record_signs_for_dkimpy(self):
        st = harness.StateDir(domains=(DOMAIN,))
        self.addCleanup(st.cleanup)
        for alg, sel in (("rsa", "t1"), ("ed25519", None)):
            args = ["dkim", "generate", DOMAIN, "--algorithm", alg]
            if sel:
                args += ["--selector", sel]
            out = st.ctl(*args).stdout.strip()
            m = re.fullmatch(r'(\S+)\._domainkey\.(\S+)\. IN TXT \( ((?:"[^"]*" ?)+)\)', out)
            self.assertTrue(m, out)
            selector, domain, strings = m.group(1), m.group(2), re.findall(r'"([^"]*)"', m.group(3))
            self.assertEqual(domain, DOMAIN)
            if sel is None:
                self.assertRegex(selector, r"^cartero\d{6}e$")
            self.assertTrue(all(len(s) <= 255 for s in strings), strings)
            record = "".join(strings)
            key_path = os.path.join(st.path, "dkim", DOMAIN, selector + ".key")
            self.assertEqual(os.stat(key_path).st_mode & 0o777, 0o600)
            msg = (b"From: a@example.test\r\nTo: b@example.org\r\nSubject: e2e\r\n\r\n"
                   b"Hello from carteroctl's key.\r\n")
            p = subprocess.run([tool(), "sign", "--domain", DOMAIN, "--selector", selector,
                                "--algorithm", alg, "--key", key_path],
                               input=msg, capture_output=True, timeout=30, check=True)
            signed = p.stdout
            name = f"{selector}._domainkey.{DOMAIN}.".encode()
            ok = dkim.verify(signed, dnsfunc=lambda n, timeout=5: record.encode() if n == name else None)
            self.assertTrue(ok, f"dkimpy refused {signed!r} with {record}")
            # listed, and `dkim record` prints the same line again
            self.assertIn(f"{DOMAIN}\t{selector}\t{alg}-sha256\tactive", st.ctl("dkim", "list").stdout)
            self.assertEqual(st.ctl("dkim", "record", DOMAIN, selector).stdout.strip(), out)

    def test_moved_state_dir_still_signs(self):
        sender = f"app@{DOMAIN}"
        st = harness.StateDir(domains=(DOMAIN,), mailboxes={sender: "pw-app"})
        self.addCleanup(st.cleanup)
        st.ctl("dkim", "generate", DOMAIN, "--selector", "mv1")
        db = sqlite3.connect(os.path.join(st.path, "config.db"))
        stored = [r[0] for r in db.execute("SELECT private_key_path FROM dkim_keys")]
        db.close()
        self.assertEqual(stored, [f"dkim/{DOMAIN}/mv1.key"])
        out = st.ctl("dkim", "record", DOMAIN, "mv1").stdout
        record = "".join(out[out.index("(") + 1:out.rindex(")")].split('"')[1::2]).encode()
        # Move the whole state dir; nothing is left at the old place.
        moved = os.path.join(st.tmp, "moved")
        os.rename(st.path, moved)
        st.path = moved
        sink = SmtpSink(host="127.0.0.1").start()
        self.addCleanup(sink.stop)
        d = harness.Carterod(st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                             relayhost=f"127.0.0.1:{sink.port}")
        d.start()
        self.addCleanup(d.stop)
        msg = harness.make_message("<moved1@it.example>", sender=sender, to="friend@remote.example",
                                   body="signed from the moved state dir\r\n")
        with smtplib.SMTP(harness.HOST, d.smtp, timeout=20) as s:
            self.assertEqual(s.sendmail(sender, ["friend@remote.example"], msg), {})
        m = [x for x in sink.wait_messages(1) if b"moved1@it.example" in x.data][0]
        self.assertTrue(m.data.startswith(b"DKIM-Signature:"), (m.data[:200], d.log()[-2000:]))
        self.assertRegex(m.data.split(b"\r\n\r\n", 1)[0], rb"\bs=mv1\b")
        self.assertTrue(dkim.verify(m.data, dnsfunc=lambda name, timeout=5: record),
                        "dkimpy does not verify the signature made with the moved key")
        self.assertNotIn("dkim_key_unreadable", d.log())

    def test_errors_change_nothing(self):
        st = harness.StateDir(domains=(DOMAIN,))
        self.addCleanup(st.cleanup)
        st.ctl("dkim", "generate", DOMAIN, "--selector", "s1")

        def snapshot():
            files = sorted(os.path.relpath(os.path.join(r, n), st.path)
                           for r, _, ns in os.walk(st.path) for n in ns
                           if not n.endswith(("-wal", "-shm")))
            return files, st.ctl("dkim", "list").stdout

        before = snapshot()
        for args, code in ((["dkim", "generate", "nope.test"], 1),
                           (["dkim", "generate", DOMAIN, "--selector", "s1"], 1),
                           (["dkim", "generate", DOMAIN, "--selector", "Bad_Sel"], 1),
                           (["dkim", "generate", DOMAIN, "--algorithm", "dsa"], 2),
                           (["dkim", "remove", DOMAIN, "nope"], 1),
                           (["dkim", "disable", DOMAIN], 2)):
            p = st.ctl(*args, check=False)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            lines = [l for l in p.stderr.splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertTrue(lines[0].startswith("carteroctl:"), lines[0])
            self.assertEqual(snapshot(), before, args)
        st.ctl("dkim", "disable", DOMAIN, "s1")
        self.assertIn("inactive", st.ctl("dkim", "list", DOMAIN).stdout)
        st.ctl("dkim", "remove", DOMAIN, "s1")
        self.assertFalse(os.path.exists(os.path.join(st.path, "dkim", DOMAIN, "s1.key")))
        self.assertEqual(st.ctl("dkim", "list").stdout, "")


if __name__ == "__main__":
    harness.main()
