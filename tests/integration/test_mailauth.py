#!/usr/bin/env python3
"""Mail authentication: Cartero's SPF (daemon/mailauth/spf, driven through tests/tools/spf_tool
with the real resolver) held against pyspf on a generated corpus served by Knot, and SPF/DKIM/
DMARC end to end through carterod's port 25.

Corpus: records exercising every mechanism and modifier, qualifiers, macros, the 10-lookup and
2-void-lookup limits, the 10-MX-name limit, syntax errors, temperror (an include of a name whose
server refuses to answer) × client addresses (IPv4 and IPv6) × senders (a local part with
delimiters, the null sender → postmaster@HELO). Every case must give the same result from both;
the summary line gives the corpus size and the agreement.

End to end (carterod on loopback, resolver = the Knot server):
  - SPF fails and the From domain publishes p=reject → 550 5.7.1 at the end of DATA;
  - a dkimpy-signed message with d= aligned to From → delivered with dmarc=pass in its
    Authentication-Results, and a forged Authentication-Results with our authserv-id removed;
  - p=quarantine failure → X-Cartero-DMARC: quarantine, filed into Junk (spam filtering).
"""

import collections
import os
import subprocess
import unittest

import harness
from dnsserver import KnotServer, knot_available

try:
    import dkim  # python3-dkim
    import dns.resolver  # python3-dnspython
    import spf  # python3-spf (pyspf)
except ImportError as e:  # pragma: no cover
    print(f"skipping: {e} (run under /usr/bin/python3 with python3-spf/-dkim/-dnspython)")
    raise SystemExit(77)

if not knot_available():
    print("skipping: knotd not installed")
    raise SystemExit(77)

Z = "spf.example"     # the corpus zone (not .test: unbound answers NXDOMAIN for it itself)
UNSERVED = "unserved.example"  # Knot serves no such zone: it refuses → SERVFAIL / NoNameservers


def tool():
    p = os.path.join(harness.build_dir(), "tests", "tools", "spf_tool")
    if not os.access(p, os.X_OK):
        raise RuntimeError(f"spf_tool not found at {p} (build the spf_tool target)")
    return p


def txt(value):
    """A TXT RDATA in zone-file form, split into ≤255-octet strings."""
    chunks = [value[i:i + 200] for i in range(0, len(value), 200)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


# ---------------------------------------------------------------------------------------------
# the corpus


def corpus_zone():
    """(zone text for spf.example, reverse zone text for 2.0.192.in-addr.arpa, [record names])."""
    lines = [
        # hosts
        "mail A 192.0.2.10", "mail AAAA 2001:db8::10",
        "mail2 A 198.51.100.7", "v6only AAAA 2001:db8:1::5",
        "mx MX 10 mail", "mx MX 20 mail2",
        "mx6 MX 10 v6only",
        "nomx A 192.0.2.99",
        # included / redirected policies
        f"inc-pass TXT {txt('v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all')}",
        f"inc-fail TXT {txt('v=spf1 -all')}",
        f"inc-soft TXT {txt('v=spf1 ~all')}",
        f"inc-neutral TXT {txt('v=spf1 ?all')}",
        "inc-none A 192.0.2.1",
        f"inc-perm TXT {txt('v=spf1 frobnicate -all')}",
        f"inc-temp TXT {txt('v=spf1 include:x.' + UNSERVED + ' -all')}",
        f"inc-two TXT {txt('v=spf1 -all')}", f"inc-two TXT {txt('v=spf1 +all')}",
        f"inc-other TXT {txt('google-site-verification=abc')}",
        f"explain TXT {txt('%{i} is not one of %{d} senders (%{c} at %{t} via %{r})')}",
        # exists targets: %{i} of 192.0.2.10 and the IPv6 nibbles of 2001:db8::10
        "192.0.2.10.ex A 127.0.0.2",
        "user.lp A 127.0.0.2", "first.last.lp A 127.0.0.2",
        "10.2.0.192.in-addr.rev A 127.0.0.2",
        "postmaster.lp A 127.0.0.2",
        "mail.spf.example.helo A 127.0.0.2",
        "user.s.spf.example.mac A 127.0.0.2",  # %{s} with '@' not a delimiter: 'user@...' → no
        "test.org.d2 A 127.0.0.2",
    ]
    # 11 MX names and 10 MX names
    for i in range(11):
        lines.append(f"mx11 MX {i} h{i}.mx11")
        lines.append(f"h{i}.mx11 A 203.0.113.{i + 1}")
    for i in range(10):
        lines.append(f"mx10 MX {i} h{i}.mx10")
        lines.append(f"h{i}.mx10 A 192.0.2.{i + 1}")
    for i in range(12):
        lines.append(f"chain{i} TXT {txt('v=spf1 include:inc-fail.spf.example ?all')}")

    inc = lambda n: f"include:{n}.{Z}"  # noqa: E731
    records = {
        # all and qualifiers
        "all-pass": "v=spf1 +all", "all-fail": "v=spf1 -all", "all-soft": "v=spf1 ~all",
        "all-neutral": "v=spf1 ?all", "empty": "v=spf1", "case": "V=SPF1 IP4:192.0.2.10 -ALL",
        "spaces": "v=spf1   ip4:192.0.2.10    -all",
        # ip4 / ip6
        "ip4": "v=spf1 ip4:192.0.2.10 -all", "ip4net": "v=spf1 ip4:192.0.2.0/24 -all",
        "ip4zero": "v=spf1 ip4:0.0.0.0/0 -all", "ip4-soft": "v=spf1 ~ip4:198.51.100.0/24 ?all",
        "ip6": "v=spf1 ip6:2001:db8::10 -all", "ip6net": "v=spf1 ip6:2001:db8::/48 ~all",
        "ip6-64": "v=spf1 ip6:2001:db8:1::/64 -all",
        # a
        "a": "v=spf1 a -all", "a-host": f"v=spf1 a:mail.{Z} -all",
        "a-cidr": f"v=spf1 a:mail.{Z}/24 -all", "a-dual": f"v=spf1 a:mail.{Z}/32//48 -all",
        "a-v6": f"v=spf1 a:v6only.{Z}//64 ~all", "a-none": f"v=spf1 a:nomx.{Z} -all",
        # mx
        "mx": f"v=spf1 mx:mx.{Z} -all", "mx-cidr": f"v=spf1 mx:mx.{Z}/16 -all",
        "mx6": f"v=spf1 mx:mx6.{Z}//32 -all", "mx-self": "v=spf1 mx -all",
        "mx-nomx": f"v=spf1 mx:nomx.{Z} -all",
        "mx11": f"v=spf1 mx:mx11.{Z} -all", "mx10": f"v=spf1 mx:mx10.{Z} -all",
        # ptr
        "ptr": f"v=spf1 ptr:{Z} -all", "ptr-self": "v=spf1 ptr ~all",
        "ptr-other": "v=spf1 ptr:example.net -all",
        # exists and macros
        "exists-i": f"v=spf1 exists:%{{i}}.ex.{Z} -all",
        "mac-l": f"v=spf1 exists:%{{l}}.lp.{Z} -all",
        "mac-l-": f"v=spf1 exists:%{{l-}}.lp.{Z} -all",
        "mac-l1r": f"v=spf1 exists:%{{l1r.}}.lp.{Z} -all",
        "mac-ir": f"v=spf1 exists:%{{ir}}.%{{v}}.rev.{Z} -all",
        "mac-h": f"v=spf1 exists:%{{h}}.helo.{Z} -all",
        "mac-d2": f"v=spf1 exists:%{{d2}}.mac.{Z} ?all",
        "mac-o": f"v=spf1 exists:%{{o}}.mac.{Z} ~all",
        "mac-s": f"v=spf1 exists:%{{s}}.mac.{Z} ~all",
        "mac-upper": f"v=spf1 exists:%{{L}}.lp.{Z} -all",
        "mac-escape": f"v=spf1 exists:%%%_%-.lp.{Z} -all",
        "mac-bad": f"v=spf1 exists:%{{q}}.lp.{Z} -all",
        "mac-bad2": f"v=spf1 exists:%x.lp.{Z} -all",
        "mac-crt": f"v=spf1 exists:%{{c}}.lp.{Z} -all",
        "mac-unknown-mod": f"v=spf1 foo=%{{l}}.bar ip4:192.0.2.10 -all",
        "mac-unknown-mod-bad": "v=spf1 foo=%{z} ip4:192.0.2.10 -all",
        # include results
        "inc-pass-r": f"v=spf1 {inc('inc-pass')} -all",
        "inc-fail-r": f"v=spf1 {inc('inc-fail')} ~all",
        "inc-soft-r": f"v=spf1 {inc('inc-soft')} -all",
        "inc-neutral-r": f"v=spf1 {inc('inc-neutral')} ?all",
        "inc-none-r": f"v=spf1 {inc('inc-none')} -all",
        "inc-nx": f"v=spf1 {inc('does-not-exist')} -all",
        "inc-perm-r": f"v=spf1 {inc('inc-perm')} -all",
        "inc-temp-r": f"v=spf1 {inc('inc-temp')} -all",
        "inc-two-r": f"v=spf1 {inc('inc-two')} -all",
        "inc-unserved": f"v=spf1 include:y.{UNSERVED} -all",
        "inc-then-ip": f"v=spf1 {inc('inc-fail')} ip4:192.0.2.11 -all",
        # redirect and exp
        "redir": f"v=spf1 redirect=inc-pass.{Z}", "redir-fail": f"v=spf1 redirect=inc-fail.{Z}",
        "redir-none": f"v=spf1 redirect=inc-none.{Z}",
        "redir-nx": f"v=spf1 redirect=nothere.{Z}",
        "redir-after": f"v=spf1 ip4:198.51.100.7 redirect=inc-soft.{Z}",
        "redir-ignored": f"v=spf1 -all redirect=inc-pass.{Z}",
        "redir-two": f"v=spf1 redirect=inc-pass.{Z} redirect=inc-fail.{Z}",
        "exp": f"v=spf1 ip4:198.51.100.7 -all exp=explain.{Z}",
        "exp-missing": f"v=spf1 -all exp=nothere.{Z}",
        "exp-two": f"v=spf1 -all exp=explain.{Z} exp=explain.{Z}",
        # limits: 10 lookups ok, 11 permerror; 2 void ok, 3 permerror
        "lookups10": "v=spf1 " + " ".join(inc(f"chain{i}") for i in range(5)) + " ip4:192.0.2.10 -all",
        "lookups11": "v=spf1 " + " ".join(inc(f"chain{i}") for i in range(6)) + " ip4:192.0.2.10 -all",
        "lookups-a11": "v=spf1 " + " ".join(f"a:h{i}.mx10.{Z}" for i in range(10)) +
                       f" a:mail.{Z} -all",
        "lookups-a10": "v=spf1 " + " ".join(f"a:h{i}.mx10.{Z}" for i in range(9)) +
                       f" a:mail.{Z} -all",
        "void2": f"v=spf1 a:nx1.{Z} a:nx2.{Z} ip4:192.0.2.10 -all",
        "void3": f"v=spf1 a:nx1.{Z} a:nx2.{Z} a:nx3.{Z} ip4:192.0.2.10 -all",
        "void-mix": f"v=spf1 exists:nx1.{Z} mx:nx2.{Z} exists:nx3.{Z} -all",
        # syntax errors anywhere in the record: permerror
        "bad-mech": "v=spf1 ip4:192.0.2.10 frob -all",
        "bad-ip4": "v=spf1 ip4:192.0.2.300 -all", "bad-cidr": "v=spf1 ip4:192.0.2.0/33 -all",
        "bad-ip6": "v=spf1 ip6:2001:db8::zz -all", "bad-cidr6": f"v=spf1 a:mail.{Z}//129 -all",
        "bad-all": "v=spf1 -all:foo", "bad-include": "v=spf1 include -all",
        "bad-domain": "v=spf1 a:localhost -all", "bad-qual": "v=spf1 !all",
        "bad-exists": "v=spf1 exists -all", "bad-ip4-cidr-lz": "v=spf1 ip4:192.0.2.0/024 -all",
        "late-error": "v=spf1 +all ip4:1.2.3",
    }
    for name, value in records.items():
        lines.append(f"{name} TXT {txt(value)}")
    lines.append(f"two TXT {txt('v=spf1 +all')}")
    lines.append(f"two TXT {txt('v=spf1 -all')}")
    lines.append(f"notspf TXT {txt('v=spf10 +all')}")
    lines.append(f"other TXT {txt('hello world')}")
    lines.append(f"mixed TXT {txt('hello')}")
    lines.append(f"mixed TXT {txt('v=spf1 ip4:192.0.2.10 -all')}")
    # the mx-self / a / ptr-self domains need addresses of their own
    for n in ("a", "mx-self", "ptr-self"):
        lines.append(f"{n} A 192.0.2.10")
    lines.append(f"mx-self MX 10 mail2.{Z}.")
    names = list(records) + ["two", "notspf", "other", "mixed", "nosuchname"]
    reverse = "\n".join([
        f"10 PTR mail.{Z}.", f"10 PTR ptr-self.{Z}.",
        f"11 PTR forged.{Z}.", f"12 PTR mail.{Z}.",  # .12 does not resolve back
    ])
    return "\n".join(lines), reverse, names


CLIENTS = ["192.0.2.10", "192.0.2.11", "192.0.2.12", "198.51.100.7", "203.0.113.9",
           "2001:db8::10", "2001:db8:1::5", "::ffff:192.0.2.10"]


def cases(names):
    out = []
    for n in names:
        d = f"{n}.{Z}"
        for ip in CLIENTS:
            out.append((ip, f"user@{d}", "mail.spf.example"))
        # delimiters and the null sender (→ postmaster@HELO)
        out.append(("192.0.2.10", f"first-last@{d}", "mail.spf.example"))
        out.append(("192.0.2.10", "", d))
        out.append(("2001:db8::10", "", d))
    # top level in a zone nobody answers for: temperror
    out.append(("192.0.2.10", f"user@z.{UNSERVED}", "mail.spf.example"))
    return out


def pyspf_check(port, ip, sender, helo):
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.timeout = r.lifetime = 3
    dns.resolver.default_resolver = r
    spf.DNSLookup = spf.DNSLookup_dnspython
    res, _ = spf.check2(i=ip, s=sender, h=helo, receiver="mx.example.test", querytime=20)
    return res


class SPFCorpus(unittest.TestCase):
    def test_corpus_agrees_with_pyspf(self):
        zone, reverse, names = corpus_zone()
        # Every client's reverse zone is served (an unanswered PTR query is temperror for
        # pyspf but "no match" in RFC 7208 §5.5, which Cartero follows).
        v6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mail.spf.example."
        with KnotServer({Z: zone, "2.0.192.in-addr.arpa": reverse,
                         "100.51.198.in-addr.arpa": "", "113.0.203.in-addr.arpa": "",
                         "8.b.d.0.1.0.0.2.ip6.arpa": v6}) as k:
            cs = cases(names)
            inp = "".join(f"{ip}\t{s}\t{h}\n" for ip, s, h in cs)
            p = subprocess.run([tool(), "--resolver", k.address, "--timeout-ms", "3000"],
                               input=inp, capture_output=True, text=True, timeout=600)
            self.assertEqual(p.returncode, 0, p.stderr)
            ours = [l.split("\t", 1) for l in p.stdout.splitlines()]
            self.assertEqual(len(ours), len(cs))
            agree, kinds, diffs = 0, collections.Counter(), []
            for (ip, s, h), (mine, why) in zip(cs, ours):
                ref = pyspf_check(k.port, ip, s, h)
                kinds[ref] += 1
                if ref == mine:
                    agree += 1
                else:
                    diffs.append(f"{ip} <{s}> helo={h}: pyspf={ref} cartero={mine} ({why})")
            print(f"\nSPF corpus: {len(cs)} cases, {agree} agree with pyspf; results: "
                  f"{dict(sorted(kinds.items()))}")
            for d in diffs[:60]:
                print("  DIFF", d)
            for kind in ("pass", "fail", "softfail", "neutral", "none", "temperror",
                         "permerror"):
                self.assertGreater(kinds[kind], 0, f"no {kind} case in the corpus")
            self.assertGreaterEqual(len(cs), 300)
            self.assertEqual(diffs, [])


# ---------------------------------------------------------------------------------------------
# end to end through carterod's port 25


RCPT = "user@" + harness.DOMAIN


def rsa_key():
    pem = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True,
                         check=True, timeout=60).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"], input=pem,
                          capture_output=True, check=True, timeout=60).stdout
    import base64
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()


def message(frm, msgid):
    return (f"From: <{frm}>\r\nTo: <{RCPT}>\r\nSubject: auth test\r\n"
            f"Message-ID: <{msgid}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
            "Hello.\r\n").encode()


class EndToEnd(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pem, record = rsa_key()
        cls.dns = KnotServer({
            "reject.example": (f"@ TXT {txt('v=spf1 -all')}\n"
                               f"_dmarc TXT {txt('v=DMARC1; p=reject')}\n"),
            "signed.example": (f"@ TXT {txt('v=spf1 -all')}\n"
                               f"_dmarc TXT {txt('v=DMARC1; p=reject; adkim=s')}\n"
                               f"sel._domainkey TXT {txt(record)}\n"),
            "quar.example": (f"@ TXT {txt('v=spf1 -all')}\n"
                             f"_dmarc TXT {txt('v=DMARC1; p=quarantine')}\n"),
        })
        cls.state = harness.StateDir(mailboxes={RCPT: "pw-user"})
        cls.state.set_config({"resolver": cls.dns.address})
        cls.d = harness.Carterod(cls.state, kinds=("smtp",))
        cls.daemons = [cls.d]
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.state.cleanup()
        cls.dns.stop()

    def test_dmarc_reject_refused_at_end_of_data(self):
        with harness.SMTPClient(self.d.smtp) as c:
            c.ehlo("client.example")
            code, text = c.send_mail("x@reject.example", RCPT,
                                     message("boss@reject.example", "rej@example"))
        self.assertEqual(code, 550, text)
        self.assertIn("5.7.1", text)
        self.assertIn("DMARC policy of reject.example", text)
        self.assertIn("dmarc=fail", self.d.log())

    def test_dkim_aligned_passes_and_forged_results_removed(self):
        forged = (f"Authentication-Results: {harness.HOSTNAME}; dkim=pass "
                  "header.d=bank.example\r\n").encode()
        msg = message("ceo@signed.example", "signed@example")
        sig = dkim.sign(msg, b"sel", b"signed.example", self.pem,
                        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
        with harness.SMTPClient(self.d.smtp) as c:
            c.ehlo("client.example")
            code, text = c.send_mail("bounce@signed.example", RCPT, forged + sig + msg)
        self.assertEqual(code, 250, text)
        got = self.state.wait_msgid(RCPT, "signed@example")[0]
        head = got.split(b"\r\n\r\n", 1)[0].decode()
        ar = [l for l in head.split("\r\n") if l.lower().startswith("authentication-results")]
        self.assertEqual(len(ar), 1, head)  # ours only: the forged one is gone
        self.assertNotIn("bank.example", head)
        self.assertIn("dmarc=pass", head)
        self.assertIn("dkim=pass header.d=signed.example", head)
        self.assertIn("spf=fail smtp.mailfrom=bounce@signed.example", head)
        self.assertIn("header.from=signed.example", head)

    def test_quarantine_is_tagged(self):
        with harness.SMTPClient(self.d.smtp) as c:
            c.ehlo("client.example")
            code, text = c.send_mail("x@quar.example", RCPT,
                                     message("boss@quar.example", "quar@example"))
        self.assertEqual(code, 250, text)
        # Issue 4 spam filtering: p=quarantine is filed into Junk by default.
        got = self.state.wait_msgid(RCPT, "quar@example", folder=".Junk")[0]
        self.assertIn(b"X-Cartero-DMARC: quarantine", got)
        self.assertIn(b"dmarc=fail", got)


if __name__ == "__main__":
    harness.main()
