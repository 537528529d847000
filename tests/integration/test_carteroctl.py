#!/usr/bin/env python3
"""carteroctl as tools outside the repo use it: every documented form works, and every bad
input exits non-zero with ONE line on stderr that names the problem — and changes nothing
(config.db's dump and the state dir's file list are compared before and after)."""

import os
import sqlite3
import subprocess

import harness
from harness import StateDir

DOMAIN = harness.DOMAIN


def dump(state):
    db = sqlite3.connect(f"file:{os.path.join(state.path, 'config.db')}?mode=ro", uri=True)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


def files(state):
    out = []
    for root, dirs, names in os.walk(state.path):
        for n in names:
            if n.endswith(("-wal", "-shm")):
                continue
            out.append(os.path.relpath(os.path.join(root, n), state.path))
    return sorted(out)


class Carteroctl(harness.CarteroTestCase):
    def setUp(self):
        super().setUp()
        self.st = StateDir(mailboxes={f"alice@{DOMAIN}": "pw-alice"})
        self.addCleanup(self.st.cleanup)

    def refused(self, *args, input=None, mentions=None):
        """Run a bad command: non-zero exit, one stderr line naming the problem, no change."""
        before = (dump(self.st), files(self.st))
        p = self.st.ctl(*args, input=input, check=False)
        self.assertNotEqual(p.returncode, 0, f"carteroctl {args} should fail")
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"carteroctl {args}: want one stderr line, got {p.stderr!r}")
        self.assertTrue(lines[0].startswith("carteroctl:"), lines[0])
        if mentions:
            self.assertIn(mentions, lines[0])
        self.assertEqual((dump(self.st), files(self.st)), before,
                         f"carteroctl {args} failed but changed the state dir")
        return lines[0]

    def test_init_layout(self):
        for name in ("config.db", "queue.db", "spool", "mail", "carterod.conf",
                     "tls/cert.pem", "tls/key.pem"):
            self.assertTrue(os.path.exists(os.path.join(self.st.path, name)), name)
        self.assertEqual(os.stat(self.st.key).st_mode & 0o777, 0o600)
        cert = subprocess.run(["openssl", "x509", "-in", self.st.cert, "-noout", "-ext",
                               "subjectAltName"], capture_output=True, text=True, timeout=10)
        self.assertIn(f"DNS:{harness.HOSTNAME}", cert.stdout)
        self.refused("init", "--hostname", "again.example", mentions="already")

    def test_domains(self):
        self.st.ctl("domain", "add", "Bücher.Example")
        out = self.st.ctl("domain", "list").stdout.split()
        self.assertIn("xn--bcher-kva.example", out)
        self.assertIn(DOMAIN, out)
        self.refused("domain", "add", "xn--bcher-kva.example")  # duplicate
        self.refused("domain", "add", "-bad-.example")
        self.refused("domain", "add", "trailing.dot.example.")
        self.refused("domain", "add", "192.0.2.1")
        self.refused("domain", "add", "a" * 64 + ".example")
        self.refused("domain", "add", "bad\x1b[31m.example")
        self.refused("domain", "remove", DOMAIN, mentions="mailbox")  # still has mailboxes
        self.refused("domain", "remove", "nope.example")
        self.st.ctl("domain", "remove", "xn--bcher-kva.example")
        self.assertNotIn("xn--bcher-kva.example", self.st.ctl("domain", "list").stdout.split())

    def test_mailboxes(self):
        self.st.ctl("mailbox", "add", f"Bob@{DOMAIN}", "--password-stdin", "--quota", "500M",
                    input="pw-bob\n")
        rows = [l.split("\t") for l in self.st.ctl("mailbox", "list", DOMAIN).stdout.splitlines()]
        bob = [r for r in rows if r[0] == f"bob@{DOMAIN}"]
        self.assertEqual(len(bob), 1, rows)
        self.assertIn("500", bob[0][1])
        # The stored hash is one Dovecot verifies.
        db = sqlite3.connect(os.path.join(self.st.path, "config.db"))
        (h,) = db.execute("SELECT password_hash FROM mailboxes WHERE address=?",
                          (f"bob@{DOMAIN}",)).fetchone()
        db.close()
        ok = subprocess.run(["doveadm", "pw", "-t", h, "-p", "pw-bob"], capture_output=True,
                            timeout=30)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        bad = subprocess.run(["doveadm", "pw", "-t", h, "-p", "wrong"], capture_output=True,
                             timeout=30)
        self.assertNotEqual(bad.returncode, 0)
        self.st.ctl("mailbox", "passwd", f"bob@{DOMAIN}", "--password-stdin", input="new-pw\n")
        self.refused("mailbox", "add", f"bob@{DOMAIN}", "--password-stdin", input="x\n")
        self.refused("mailbox", "add", "x@unknown.example", "--password-stdin", input="x\n",
                     mentions="unknown.example")
        self.refused("mailbox", "add", f"no-password@{DOMAIN}", "--password-stdin", input="\n")
        self.refused("mailbox", "add", f"q@{DOMAIN}", "--password-stdin", "--quota", "lots",
                     input="x\n")
        self.refused("mailbox", "add", f"q@{DOMAIN}", "--password-stdin", "--quota", "-5M",
                     input="x\n")
        self.refused("mailbox", "add", f"a..b@{DOMAIN}", "--password-stdin", input="x\n")
        self.refused("mailbox", "add", f"a%b@{DOMAIN}", "--password-stdin", input="x\n")
        self.refused("mailbox", "add", "no-at-sign", "--password-stdin", input="x\n")
        self.refused("mailbox", "passwd", f"ghost@{DOMAIN}", "--password-stdin", input="x\n")
        self.refused("mailbox", "remove", f"ghost@{DOMAIN}")
        self.refused("mailbox", "list", "unknown.example")
        self.st.ctl("mailbox", "remove", f"bob@{DOMAIN}")
        self.assertNotIn(f"bob@{DOMAIN}", self.st.ctl("mailbox", "list").stdout)

    def test_forwarders(self):
        self.st.ctl("forwarder", "add", f"sales@{DOMAIN}", f"alice@{DOMAIN}", "boss@remote.example")
        self.st.ctl("forwarder", "add", f"@{DOMAIN}", f"alice@{DOMAIN}")  # catch-all
        rows = dict(l.split("\t") for l in self.st.ctl("forwarder", "list").stdout.splitlines())
        self.assertEqual(rows[f"sales@{DOMAIN}"], f"alice@{DOMAIN},boss@remote.example")
        self.assertEqual(rows[f"@{DOMAIN}"], f"alice@{DOMAIN}")
        # A forwarder may not shadow a mailbox, nor forward to itself.
        self.refused("forwarder", "add", f"alice@{DOMAIN}", "x@remote.example", mentions="mailbox")
        self.refused("forwarder", "add", f"self@{DOMAIN}", f"self@{DOMAIN}")
        self.refused("forwarder", "add", "x@unknown.example", f"alice@{DOMAIN}")
        self.refused("forwarder", "add", f"y@{DOMAIN}", "not an address")
        self.refused("forwarder", "remove", f"ghost@{DOMAIN}")
        # ...and a mailbox may not take a forwarder's address.
        self.refused("mailbox", "add", f"sales@{DOMAIN}", "--password-stdin", input="x\n",
                     mentions="forwarder")
        self.st.ctl("forwarder", "remove", f"sales@{DOMAIN}")
        self.assertNotIn(f"sales@{DOMAIN}", self.st.ctl("forwarder", "list").stdout)

    def test_usage_errors_and_help(self):
        for args in (("frobnicate",), ("domain", "frob"), ("mailbox",), ("domain", "add")):
            line = self.refused(*args)
            self.assertGreater(len(line), 15)
        for args in ((), ("init",), ("domain",), ("domain", "add"), ("mailbox", "add"),
                     ("mailbox", "passwd"), ("mailbox", "list"), ("mailbox", "remove"),
                     ("forwarder", "add"), ("forwarder", "list"), ("forwarder", "remove"),
                     ("setting",)):
            p = self.st.ctl(*args, "--help", check=False)
            self.assertEqual(p.returncode, 0, f"{args} --help: {p.stderr}")
            self.assertIn("Usage", p.stdout)
        p = subprocess.run([harness.binary("carteroctl"), "domain", "list"], capture_output=True,
                           text=True, timeout=10, env={k: v for k, v in os.environ.items()
                                                       if k != "CARTERO_STATE_DIR"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("state", p.stderr)

    def test_settings(self):
        self.st.ctl("setting", "set", "postmaster", f"alice@{DOMAIN}")
        self.assertEqual(self.st.ctl("setting", "get", "postmaster").stdout.strip(),
                         f"alice@{DOMAIN}")
        self.refused("setting", "set", "postmaster", "not an address")
        self.refused("setting", "set", "no_such_key", "x")


if __name__ == "__main__":
    harness.main()
