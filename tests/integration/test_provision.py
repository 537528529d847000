#!/usr/bin/env python3
"""carteroctl provision and dns records/check against independent tools: the generated zones pass
kzonecheck and named-checkzone (with an SOA/NS wrapper), load into a real Knot on loopback, and
`dns check` reads them back as ok — and names exactly the record changed in the served zone;
pyspf evaluates the served SPF; dkimpy verifies a signature made with the provisioned key against
the served DKIM record; a dozen kinds of bad spec each get their field-path error and write
nothing; a second run changes nothing; a changed spec changes only what changed."""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import tempfile

import harness
from dnsserver import KnotServer


DOMAIN = "acme.example"
SHOP = "acme-shop.example"
OUT_V4 = ["192.0.2.10", "192.0.2.20"]
OUT_V6 = ["2001:db8::10"]

SPEC = """\
# the integration test's customer
customer: acme
domains:
  primary: acme.example
  extra: [acme-shop.example]
admin_email: it@acme.example
hostnames:
  - name: mx1.acme.example
    mx_preference: 10
  - name: mx2.acme.example
    mx_preference: 20
  - name: out1.acme.example
ips:
  - address: 192.0.2.10
    hostname: mx1.acme.example
    pool: default
  - address: 2001:db8::10
    hostname: mx1.acme.example
    pool: default
  - address: 192.0.2.11
    hostname: mx2.acme.example
  - address: 192.0.2.20
    hostname: out1.acme.example
    pool: bulk
dmarc:
  policy: quarantine
  rua: dmarc@acme.example
dkim:
  - selector: s1
    algorithm: rsa
  - selector: e1
    algorithm: ed25519
mailboxes:
  - address: alice@acme.example
    quota: 1G
forwarders:
  - source: sales@acme.example
    to: [alice@acme.example]
"""

SOA_WRAPPER = """$ORIGIN {origin}.
$TTL 3600
@ IN SOA ns1.{origin}. hostmaster.{origin}. {serial} 3600 600 86400 300
@ IN NS ns1.{origin}.
ns1 IN A 192.0.2.53
"""


def wrap(origin, body, serial=1):
    return SOA_WRAPPER.format(origin=origin, serial=serial) + body


def make_knot(zones):
    """Knot on loopback serving full zone texts (ours carry their SOA/NS wrapper)."""
    return KnotServer(zones, start=False)


def ctl(*args, check=False, timeout=120):
    return subprocess.run([harness.binary("carteroctl"), *args], capture_output=True, text=True,
                          timeout=timeout, check=check)


def tree(path):
    """{relative path: sha256} of every file under path (SQLite's -wal/-shm left out)."""
    out = {}
    for root, _, names in os.walk(path):
        for n in names:
            if n.endswith(("-wal", "-shm")):
                continue
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, path)] = hashlib.sha256(f.read()).hexdigest()
    return out


def reverse_zones(out_dir):
    """PTR zones for the test's addresses, as the IP owner would publish them."""
    v4 = "$ORIGIN 2.0.192.in-addr.arpa.\n10 IN PTR mx1.acme.example.\n11 IN PTR mx2.acme.example.\n" \
         "20 IN PTR out1.acme.example.\n"
    v6_origin = "8.b.d.0.1.0.0.2.ip6.arpa"
    v6_owner = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
    v6 = f"$ORIGIN {v6_origin}.\n{v6_owner} IN PTR mx1.acme.example.\n"
    return {"2.0.192.in-addr.arpa": wrap("2.0.192.in-addr.arpa", v4),
            v6_origin: wrap(v6_origin, v6)}


class Provision(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cartero-prov-")
        cls.spec = os.path.join(cls.tmp, "customer.yaml")
        with open(cls.spec, "w") as f:
            f.write(SPEC)
        cls.out = os.path.join(cls.tmp, "out")
        p = ctl("provision", cls.spec, "--out", cls.out)
        if p.returncode != 0:
            raise AssertionError(f"provision failed: {p.stderr}")
        cls.first_output = p.stdout
        cls.state = os.path.join(cls.out, "state")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def zone(self, domain):
        with open(os.path.join(self.out, "dns", f"{domain}.zone")) as f:
            return f.read()

    def served(self):
        zones = {d: wrap(d, self.zone(d)) for d in (DOMAIN, SHOP)}
        zones.update(reverse_zones(self.out))
        return zones

    # -- what provision wrote ------------------------------------------------------------------

    def test_layout_and_secrets(self):
        self.assertIn("added admin it@acme.example", self.first_output)
        for rel in ("state/config.db", "state/queue.db", "state/tls/cert.pem", "state/tls/key.pem",
                    "secrets/admin-password", "secrets/mailboxes/alice@acme.example",
                    f"dns/{DOMAIN}.zone", f"dns/{SHOP}.zone", f"dns/mta-sts.{DOMAIN}.txt",
                    "dns/ptr-requests.txt", "dns/records.json", "dns/records.csv",
                    f"state/dkim/{DOMAIN}/s1.key", f"state/dkim/{SHOP}/e1.key"):
            self.assertTrue(os.path.isfile(os.path.join(self.out, rel)), rel)
        for rel in ("secrets/admin-password", "secrets/mailboxes/alice@acme.example",
                    f"state/dkim/{DOMAIN}/s1.key", "state/tls/key.pem"):
            mode = os.stat(os.path.join(self.out, rel)).st_mode & 0o777
            self.assertEqual(mode, 0o600, rel)
        # The password is printed as a path only, never as text.
        with open(os.path.join(self.out, "secrets/admin-password")) as f:
            pw = f.read().strip()
        self.assertGreaterEqual(len(pw), 16)
        self.assertNotIn(pw, self.first_output)
        # carteroctl sees what was seeded.
        st = ["--state-dir", self.state]
        self.assertEqual(ctl(*st, "mailbox", "list").stdout.split("\t")[0], "alice@acme.example")
        self.assertEqual(ctl(*st, "setting", "get", "hostname").stdout.strip(), "mx1.acme.example")
        self.assertEqual(ctl(*st, "setting", "get", "dmarc_policy").stdout.strip(), "quarantine")
        # DKIM key files are named relative to the state dir, so the state dir can be moved
        # (image/build copies it to /var/lib/cartero) without rewriting config.db.
        db = sqlite3.connect(os.path.join(self.state, "config.db"))
        paths = sorted(r[0] for r in db.execute("SELECT private_key_path FROM dkim_keys"))
        db.close()
        self.assertEqual(paths, [f"dkim/{SHOP}/e1.key", f"dkim/{SHOP}/s1.key",
                                 f"dkim/{DOMAIN}/e1.key", f"dkim/{DOMAIN}/s1.key"])
        # The certificate names every host.
        p = subprocess.run(["openssl", "x509", "-in", os.path.join(self.state, "tls/cert.pem"),
                            "-noout", "-ext", "subjectAltName"], capture_output=True, text=True)
        for h in ("mx1.acme.example", "mx2.acme.example", "out1.acme.example"):
            self.assertIn(f"DNS:{h}", p.stdout)
        with open(os.path.join(self.out, "dns", f"mta-sts.{DOMAIN}.txt"), newline="") as f:
            self.assertEqual(f.read(), "version: STSv1\r\nmode: testing\r\nmx: mx1.acme.example\r\n"
                                       "mx: mx2.acme.example\r\nmax_age: 86400\r\n")
        with open(os.path.join(self.out, "dns", "ptr-requests.txt")) as f:
            ptr = f.read()
        self.assertIn("Please set the reverse DNS (PTR) of 192.0.2.20 to out1.acme.example.", ptr)
        self.assertIn("20.2.0.192.in-addr.arpa.", ptr)

    def test_dns_records_matches_zone_file(self):
        p = ctl("--state-dir", self.state, "dns", "records", DOMAIN)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.zone(DOMAIN))
        self.assertIn('"v=spf1 ip4:192.0.2.10 ip4:192.0.2.20 ip6:2001:db8::10 -all"', p.stdout)
        self.assertIn('"v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.example; adkim=r; aspf=r"',
                      p.stdout)
        self.assertRegex(p.stdout, r"\nout1 +3600 IN MX +0 \.\n")
        p = ctl("--state-dir", self.state, "dns", "records", "nosuch.example")
        self.assertEqual(p.returncode, 1)
        self.assertIn("nosuch.example", p.stderr)

    def test_zone_checkers(self):
        for d in (DOMAIN, SHOP):
            path = os.path.join(self.tmp, f"check-{d}.zone")
            with open(path, "w") as f:
                f.write(wrap(d, self.zone(d)))
            k = subprocess.run(["kzonecheck", "-o", d, path], capture_output=True, text=True)
            self.assertEqual(k.returncode, 0, f"kzonecheck {d}: {k.stdout}{k.stderr}")
            n = subprocess.run(["named-checkzone", d, path], capture_output=True, text=True)
            self.assertEqual(n.returncode, 0, f"named-checkzone {d}: {n.stdout}{n.stderr}")

    # -- against a real DNS server ---------------------------------------------------------------

    def test_dns_check_ok_then_one_difference(self):
        with make_knot(self.served()) as knot:
            resolver = f"127.0.0.1:{knot.port}"
            p = ctl("--state-dir", self.state, "dns", "check", DOMAIN, "--resolver", resolver)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            lines = [l for l in p.stdout.splitlines() if l and not l[0].isdigit()]
            self.assertTrue(lines)
            bad = [l for l in lines if not l.startswith("ok ")]
            self.assertEqual(bad, [], p.stdout)
            self.assertTrue(any("PTR" in l and "forward-confirmed" in l for l in lines), p.stdout)

            # One record changed at the "registrar": exactly that one is reported.
            changed = self.zone(DOMAIN).replace("p=quarantine", "p=none")
            knot.set_zone(DOMAIN, wrap(DOMAIN, changed, serial=2))
            p = ctl("--state-dir", self.state, "dns", "check", DOMAIN, "--resolver", resolver)
            self.assertNotEqual(p.returncode, 0, p.stdout)
            lines = [l for l in p.stdout.splitlines() if l and not l[0].isdigit()]
            bad = [l for l in lines if not l.startswith("ok ")]
            self.assertEqual(len(bad), 1, p.stdout)
            self.assertTrue(bad[0].startswith("different"), bad[0])
            self.assertIn("_dmarc.acme.example", bad[0])
            self.assertIn("found: v=DMARC1; p=none;", bad[0])

            # A record removed is "missing".
            removed = "\n".join(l for l in self.zone(DOMAIN).splitlines()
                                if not l.startswith("_submission._tcp"))
            knot.set_zone(DOMAIN, wrap(DOMAIN, removed, serial=3))
            p = ctl("--state-dir", self.state, "dns", "check", DOMAIN, "--resolver", resolver)
            bad = [l for l in p.stdout.splitlines() if l and not l[0].isdigit()
                   and not l.startswith("ok ")]
            self.assertEqual(len(bad), 1, p.stdout)
            self.assertTrue(bad[0].startswith("missing") and "_submission._tcp" in bad[0], bad[0])
            # SRV is recommended, not required: reported, but the check passes.
            self.assertEqual(p.returncode, 0, p.stdout)

    def test_pyspf_against_served_spf(self):
        import dns.resolver
        import spf
        with make_knot(self.served()) as knot:
            r = dns.resolver.Resolver(configure=False)
            r.nameservers = ["127.0.0.1"]
            r.port = knot.port
            saved = dns.resolver.default_resolver
            dns.resolver.default_resolver = r
            try:
                for ip in OUT_V4 + OUT_V6:
                    res, why = spf.check2(i=ip, s=f"news@{DOMAIN}", h="out1.acme.example")
                    self.assertEqual(res, "pass", f"{ip}: {why}")
                    res, why = spf.check2(i=ip, s=f"news@{SHOP}", h="out1.acme.example")
                    self.assertEqual(res, "pass", f"{ip} for {SHOP}: {why}")
                for ip in ("192.0.2.11", "198.51.100.1", "2001:db8::11"):
                    res, why = spf.check2(i=ip, s=f"news@{DOMAIN}", h="out1.acme.example")
                    self.assertEqual(res, "fail", f"{ip}: {why}")
                # HELO checks (RFC 7208 §2.3): out1's own address passes, another fails.
                res, _ = spf.check2(i="192.0.2.20", s="", h="out1.acme.example")
                self.assertEqual(res, "pass")
                res, _ = spf.check2(i="192.0.2.10", s="", h="out1.acme.example")
                self.assertEqual(res, "fail")
            finally:
                dns.resolver.default_resolver = saved

    def test_dkim_signature_verifies_with_dkimpy(self):
        tool = os.path.join(harness.build_dir(), "tests", "tools", "dkim_tool")
        if not os.path.isfile(tool):
            self.skipTest("dkim_tool not built in this build dir (target dkim_tool)")
        import dkim
        import dns.resolver
        msg = (b"From: alice@acme.example\r\nTo: bob@example.org\r\nSubject: provisioned key\r\n"
               b"Message-ID: <p1@acme.example>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\n"
               b"hello\r\n")
        with make_knot(self.served()) as knot:
            r = dns.resolver.Resolver(configure=False)
            r.nameservers = ["127.0.0.1"]
            r.port = knot.port

            def txt(name, timeout=5):
                name = name.decode() if isinstance(name, bytes) else name
                ans = r.resolve(name, "TXT", lifetime=timeout)
                return b"".join(b"".join(rr.strings) for rr in ans)

            for sel, alg in (("s1", "rsa"), ("e1", "ed25519")):
                key = os.path.join(self.state, "dkim", DOMAIN, f"{sel}.key")
                p = subprocess.run([tool, "sign", "--domain", DOMAIN, "--selector", sel,
                                    "--algorithm", alg, "--key", key], input=msg,
                                   capture_output=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(dkim.verify(p.stdout, dnsfunc=txt), f"{sel} ({alg})")

    # -- bad specs ---------------------------------------------------------------------------

    def test_bad_specs_name_the_field_and_write_nothing(self):
        def edit(frm, to):
            self.assertIn(frm, SPEC)
            return SPEC.replace(frm, to, 1)

        cases = [
            (edit("address: 192.0.2.20", "address: 10.0.0.300"),
             "ips[3].address: 10.0.0.300 is not an IPv4 address"),
            (edit("address: 2001:db8::10", "address: 2001:db8::zz"),
             "ips[1].address: 2001:db8::zz is not an IPv6 address"),
            (edit("    mx_preference: 10", "    mx_prefernce: 10"), "hostnames[0].mx_prefernce: unknown key"),
            (edit("customer: acme", "customer: acme\nsmarthots: relay.example"), "smarthots: unknown key"),
            (edit("admin_email: it@acme.example", "admin_email: it@"), "admin_email: "),
            (edit("    hostname: out1.acme.example", "    hostname: out9.acme.example"),
             "ips[3].hostname: out9.acme.example is not one of the names under hostnames"),
            (edit("  - address: 192.0.2.11", "  - address: 192.0.2.10"),
             "ips[2].address: 192.0.2.10 is listed twice"),
            (edit("  policy: quarantine", "  policy: strict"),
             "dmarc.policy: strict is not none, quarantine or reject"),
            (edit("  rua: dmarc@acme.example", "  rua: not an address"), "dmarc.rua: "),
            (edit("    algorithm: ed25519", "    algorithm: dsa"), "dkim[1].algorithm: dsa is not rsa or ed25519"),
            (edit("  - selector: e1", "  - selector: -e1"), "dkim[1].selector: -e1 is not a DKIM selector"),
            (edit("    quota: 1G", "    quota: lots"), "mailboxes[0].quota: "),
            (edit("  - address: alice@acme.example", "  - address: alice@elsewhere.example"),
             "mailboxes[0].address: alice@elsewhere.example is not in one of the spec's domains"),
            (edit("    to: [alice@acme.example]", "    to: [sales@acme.example]"),
             "forwarders[0].to[0]: sales@acme.example forwards to itself"),
            (edit("  - name: out1.acme.example", "  - name: out1.provider.example"),
             "hostnames[2].name: out1.provider.example is not under any of the spec's domains"),
            (edit("    mx_preference: 20", "    mx_preference: -1"),
             "hostnames[1].mx_preference: -1 is not a number from 0 to 65535"),
            (edit("customer: acme", "customer: acme\nsmarthost: relay.example:0"),
             "smarthost: port 0 is not a number from 1 to 65535"),
            ("customer: [oops\n", "not valid YAML"),
        ]
        self.assertGreaterEqual(len(cases), 12)
        for i, (text, error) in enumerate(cases):
            with self.subTest(error=error):
                spec = os.path.join(self.tmp, f"bad{i}.yaml")
                with open(spec, "w") as f:
                    f.write(text)
                out = os.path.join(self.tmp, f"bad-out{i}")
                p = ctl("provision", spec, "--out", out)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn(error, p.stderr)
                self.assertIn("nothing was written", p.stderr)
                self.assertEqual(p.stdout, "")
                self.assertFalse(os.path.exists(out), "the output dir must not be created")

        # Several errors at once: all reported, one per line.
        text = edit("address: 192.0.2.20", "address: 10.0.0.300").replace("policy: quarantine",
                                                                          "policy: strict")
        spec = os.path.join(self.tmp, "bad-many.yaml")
        with open(spec, "w") as f:
            f.write(text)
        p = ctl("provision", spec, "--out", os.path.join(self.tmp, "bad-many"))
        self.assertEqual(p.returncode, 1)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 3, p.stderr)  # two errors and the summary
        self.assertIn("2 errors", lines[-1])

        # Against an existing DIR: a bad spec leaves every byte as it was.
        before = tree(self.out)
        spec = os.path.join(self.tmp, "bad-existing.yaml")
        with open(spec, "w") as f:
            f.write(edit("address: 192.0.2.20", "address: 10.0.0.300"))
        p = ctl("provision", spec, "--out", self.out)
        self.assertEqual(p.returncode, 1)
        # ...and so does a spec that would replace a DKIM key (keys are never replaced).
        with open(spec, "w") as f:
            f.write(edit("    algorithm: ed25519", "    algorithm: rsa"))
        p = ctl("provision", spec, "--out", self.out)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dkim[1].algorithm: selector e1 of acme.example already has a key of algorithm ed25519-sha256",
                      p.stderr)
        self.assertEqual(tree(self.out), before)

    # -- idempotence ---------------------------------------------------------------------------

    def test_rerun_same_then_changed_spec(self):
        out = os.path.join(self.tmp, "rerun")
        shutil.copytree(self.out, out, symlinks=True)
        before = tree(out)
        p = ctl("provision", self.spec, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "no changes\n")
        self.assertEqual(tree(out), before, "a second run must leave every file byte-identical")

        changed = SPEC.replace("    quota: 1G\n", "    quota: 1G\n  - address: carol@acme.example\n", 1)
        changed = changed.replace("dmarc:\n", "  - address: 192.0.2.21\n    hostname: out1.acme.example\n"
                                              "    pool: bulk\ndmarc:\n", 1)
        spec = os.path.join(self.tmp, "changed.yaml")
        with open(spec, "w") as f:
            f.write(changed)
        p = ctl("provision", spec, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = p.stdout.splitlines()
        self.assertEqual(sorted(l.split(" (")[0] for l in got), sorted([
            "added ip 192.0.2.21", "added mailbox carol@acme.example",
            f"dns/{DOMAIN}.zone: updated", f"dns/{SHOP}.zone: updated",
            "dns/ptr-requests.txt: updated", "dns/records.json: updated",
            "dns/records.csv: updated"]), p.stdout)
        after = tree(out)
        changed_files = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        self.assertEqual(changed_files, sorted([
            "dns/acme.example.zone", "dns/acme-shop.example.zone", "dns/ptr-requests.txt",
            "dns/records.json", "dns/records.csv", "secrets/mailboxes/carol@acme.example",
            "state/config.db"]))
        with open(os.path.join(out, "dns", f"{DOMAIN}.zone")) as f:
            self.assertIn('"v=spf1 ip4:192.0.2.10 ip4:192.0.2.20 ip4:192.0.2.21 ip6:2001:db8::10 -all"',
                          f.read())

        # Things the spec no longer lists: the IP goes (it must leave SPF), the mailbox stays.
        p = ctl("provision", self.spec, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed ip 192.0.2.21 (not in the spec)", p.stdout)
        self.assertIn("note: mailbox carol@acme.example is not in the spec (kept with its mail)",
                      p.stdout)
        with open(os.path.join(out, "dns", f"{DOMAIN}.zone")) as f:
            self.assertEqual(f.read(), self.zone(DOMAIN))


if __name__ == "__main__":
    harness.main()
