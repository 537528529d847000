#!/usr/bin/env python3
"""cartero-panel's JSON API over real HTTPS on loopback, with carterod running: TLS >= 1.2 only,
the redirect listener, security headers on every response, login/session/CSRF/token/429 paths,
and every resource (domains, mailboxes, forwarders, ips, pools, routes, pacing, dkim, dns,
queue, log, bounces, stats, suppressions) with bad input per field."""

import http.client
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.parse

import harness
from dnsserver import KnotServer, knot_available
from harness import Carterod, SMTPClient, StateDir, make_message

DOMAIN = "panel.example"
ADMIN_PW = "panel-admin-password-1"
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=",
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def panel_binary():
    p = os.path.join(harness.build_dir(), "webui", "cartero-panel")
    if not os.access(p, os.X_OK):
        raise RuntimeError(f"cartero-panel not found at {p} (build it first)")
    return p


class Panel:
    """cartero-panel on fresh loopback ports; stderr in a file."""

    def __init__(self, state: StateDir, extra=()):
        self.state = state
        self.port = harness.free_port()
        self.redirect_port = harness.free_port()
        self.log_path = os.path.join(state.tmp, "panel.stderr")
        cmd = [panel_binary(), "--state-dir", state.path, "--listen", f"127.0.0.1:{self.port}",
               "--redirect-listen", f"127.0.0.1:{self.redirect_port}", *extra]
        with open(self.log_path, "a") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         start_new_session=True)
        harness.wait_until(lambda: harness.port_open(self.port) or self.proc.poll() is not None,
                           10, what="cartero-panel listening")
        if self.proc.poll() is not None:
            raise AssertionError(f"cartero-panel exited: {self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                raise AssertionError("cartero-panel did not stop within 10 s of SIGTERM")

    def request(self, method, path, body=None, headers=None, raw=None):
        """Returns (status, headers dict lower-cased, body bytes)."""
        ctx = harness.ssl_client_context()
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        c.close()
        return out


def q(s):
    return urllib.parse.quote(s, safe="")


class PanelAPI(harness.CarteroTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = KnotServer({DOMAIN: "www A 192.0.2.80\n", "bl.example": "x A 127.0.0.1\n",
                              "2.0.192.in-addr.arpa": "1 PTR x.example.\n"}) if knot_available() else None
        config = {"resolver": cls.dns.address} if cls.dns else None
        cls.st = StateDir(hostname="mx.panel.example", domains=(DOMAIN,),
                          mailboxes={f"alice@{DOMAIN}": "pw-alice"}, config=config)
        cls.st.ctl("admin", "passwd", "admin", "--password-stdin", input=ADMIN_PW + "\n")
        cls.st.ctl("admin", "add", "lockme", "--password-stdin", input="lock-me-password\n")
        cls.token = cls.st.ctl("admin", "token", "admin").stdout.strip()
        # Remote mail goes to a relayhost where nothing listens: it stays deferred in the queue.
        cls.d = Carterod(cls.st, kinds=("smtp",), trusted_networks=("127.0.0.0/8",),
                         relayhost=f"127.0.0.1:{harness.free_port()}").start()
        cls.daemons = [cls.d]
        cls.p = Panel(cls.st, extra=("--login-max-failures-account", "3",
                                     "--login-max-failures-ip", "1000"))

    @classmethod
    def tearDownClass(cls):
        cls.p.stop()
        cls.d.stop()
        cls.st.cleanup()
        if cls.dns:
            cls.dns.stop()

    def tearDown(self):
        if self._failed():
            print("\n--- panel stderr ---\n" + self.p.log()[-3000:])
        super().tearDown()

    # helpers --------------------------------------------------------------------------------
    def api(self, method, path, body=None, expect=None, token=True, headers=None, raw=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {self.token}"
        status, hdrs, data = self.p.request(method, "/api/v1" + path, body, h, raw)
        self.assert_security_headers(hdrs)
        doc = json.loads(data) if data and hdrs.get("content-type", "").startswith("application/json") else data
        if expect is not None:
            self.assertEqual(status, expect, f"{method} {path} {body!r} -> {status} {doc!r}")
        return status, doc

    def refused(self, method, path, body, status, field):
        got, doc = self.api(method, path, body)
        self.assertEqual(got, status, f"{method} {path} {body!r} -> {got} {doc!r}")
        self.assertIsInstance(doc.get("error"), str)
        self.assertTrue(doc["error"])
        self.assertEqual(doc.get("field"), field, doc)
        return doc

    def assert_security_headers(self, hdrs):
        for k, v in SECURITY_HEADERS.items():
            self.assertIn(k, hdrs, f"missing {k}: {hdrs}")
            self.assertIn(v, hdrs[k])
        self.assertIn("frame-ancestors 'none'", hdrs["content-security-policy"])
        self.assertNotIn("unsafe-inline", hdrs["content-security-policy"])

    def login(self, user="admin", pw=ADMIN_PW):
        status, hdrs, data = self.p.request("POST", "/api/v1/session", {"username": user, "password": pw})
        return status, hdrs, json.loads(data)

    # server, TLS, headers --------------------------------------------------------------------
    def test_headers_on_every_response(self):
        for method, path in (("GET", "/"), ("GET", "/api/v1/domains"), ("GET", "/nothing.js"),
                             ("GET", "/api/v1/nothing"), ("PUT", "/api/v1/domains"),
                             ("GET", "/../../etc/passwd")):
            status, hdrs, _ = self.p.request(method, path)
            self.assert_security_headers(hdrs)
        status, hdrs, body = self.p.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"<html", body)
        self.assertEqual(self.p.request("GET", "/../../etc/passwd")[0], 404)

    def test_redirect_listener_only_redirects(self):
        for method in ("GET", "POST"):
            c = http.client.HTTPConnection("127.0.0.1", self.p.redirect_port, timeout=10)
            c.request(method, "/api/v1/domains?x=1", body=b"{}" if method == "POST" else None,
                      headers={"Host": f"panel.example:{self.p.redirect_port}"})
            r = c.getresponse()
            r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            c.close()
            self.assertEqual(r.status, 301)
            self.assertEqual(hdrs["location"], f"https://panel.example:{self.p.port}/api/v1/domains?x=1")
            self.assert_security_headers(hdrs)

    def test_tls_1_2_and_1_3_served_1_1_refused(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = harness.ssl_client_context()
            ctx.minimum_version = ctx.maximum_version = version
            c = http.client.HTTPSConnection("127.0.0.1", self.p.port, context=ctx, timeout=10)
            c.request("GET", "/")
            self.assertEqual(c.getresponse().status, 200)
            self.assertEqual(c.sock.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                                ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version])
            c.close()
        # openssl s_client can still offer TLS 1.1 (at security level 0); the server must answer
        # with a protocol_version alert, not a handshake.
        for flag in ("-tls1_1", "-tls1"):
            p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.p.port}", flag,
                                "-cipher", "DEFAULT:@SECLEVEL=0"],
                               input="", capture_output=True, text=True, timeout=20)
            out = p.stdout + p.stderr
            self.assertIn("alert protocol version", out, out[-2000:])
            self.assertNotIn("Cipher is ECDHE", out)

    # auth ----------------------------------------------------------------------------------
    def test_session_cookie_csrf_and_logout(self):
        status, _, doc = self.login(pw="wrong-password")
        self.assertEqual(status, 401)
        self.assertEqual(doc["field"], "password")
        self.assertNotIn("wrong-password", json.dumps(doc))
        status, hdrs, doc = self.login()
        self.assertEqual(status, 200, doc)
        cookie = hdrs["set-cookie"]
        for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            self.assertIn(flag, cookie)
        self.assertTrue(cookie.startswith("__Host-cartero_session="))
        jar = {"Cookie": cookie.split(";")[0]}
        csrf = doc["csrf_token"]
        st, who = self.api("GET", "/session", token=False, headers=jar, expect=200)
        self.assertEqual(who["username"], "admin")
        self.assertEqual(who["csrf_token"], csrf)
        # A state change with the cookie but no (or a wrong) CSRF token: 403, nothing saved.
        self.api("POST", "/domains", {"name": "csrf.example"}, token=False, headers=jar, expect=403)
        self.api("POST", "/domains", {"name": "csrf.example"}, token=False,
                 headers={**jar, "X-CSRF-Token": csrf[:-1] + "x"}, expect=403)
        _, doms = self.api("GET", "/domains", expect=200)
        self.assertNotIn("csrf.example", [d["name"] for d in doms["items"]])
        self.api("POST", "/domains", {"name": "csrf.example"}, token=False,
                 headers={**jar, "X-CSRF-Token": csrf}, expect=201)
        self.api("DELETE", "/domains/csrf.example", token=False, headers={**jar, "X-CSRF-Token": csrf},
                 expect=204)
        self.api("DELETE", "/session", token=False, headers=jar, expect=403)
        self.api("DELETE", "/session", token=False, headers={**jar, "X-CSRF-Token": csrf}, expect=204)
        self.api("GET", "/session", token=False, headers=jar, expect=401)

    def test_unauthenticated_and_bad_tokens(self):
        self.api("GET", "/domains", token=False, expect=401)
        self.api("GET", "/domains", token=False, headers={"Authorization": "Bearer ct_" + "A" * 43},
                 expect=401)
        self.api("GET", "/domains", token=False, headers={"Authorization": "Basic YWRtaW46eA=="},
                 expect=401)
        self.api("GET", "/domains", token=False,
                 headers={"Cookie": "__Host-cartero_session=" + "A" * 43}, expect=401)
        self.api("POST", "/session", {"username": "admin"}, token=False, expect=400)
        self.api("POST", "/session", token=False, raw=b"username=admin&password=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}, expect=415)

    def test_repeated_failures_answer_429(self):
        for _ in range(3):
            self.assertEqual(self.login("lockme", "not-it")[0], 401)
        status, hdrs, doc = self.login("lockme", "lock-me-password")
        self.assertEqual(status, 429, doc)
        self.assertGreater(int(hdrs["retry-after"]), 0)
        self.assert_security_headers(hdrs)
        self.assertEqual(self.login()[0], 200)  # another account is not locked

    # resources -----------------------------------------------------------------------------
    def test_domains(self):
        _, d = self.api("POST", "/domains", {"name": "Dom1.Example"}, expect=201)
        self.assertEqual(d["name"], "dom1.example")
        self.refused("POST", "/domains", {"name": "dom1.example"}, 409, "name")
        self.refused("POST", "/domains", {"name": "no spaces.example"}, 422, "name")
        self.refused("POST", "/domains", {"name": 42}, 400, "name")
        self.refused("POST", "/domains", {}, 400, "name")
        self.refused("POST", "/domains", {"name": "x.example", "extra": 1}, 400, "extra")
        _, lst = self.api("GET", "/domains", expect=200)
        self.assertIn("dom1.example", [x["name"] for x in lst["items"]])
        self.refused("DELETE", f"/domains/{DOMAIN}", None, 409, "name")  # has alice
        self.api("DELETE", "/domains/dom1.example", expect=204)
        self.refused("DELETE", "/domains/dom1.example", None, 404, "name")

    def test_mailboxes(self):
        base = {"address": f"bob@{DOMAIN}", "password": "pw-bob-123"}
        for body, field, status in (
                ({**base, "address": "no-at-sign"}, "address", 422),
                ({**base, "address": "bob@unknown.example"}, "address", 422),
                ({**base, "password": ""}, "password", 422),
                ({"address": base["address"]}, "password", 400),
                ({**base, "quota": "12X"}, "quota", 422),
                ({**base, "quota": -1}, "quota", 422),
                ({**base, "quota": True}, "quota", 400),
                ({**base, "enabled": "yes"}, "enabled", 400),
                ({**base, "colour": "red"}, "colour", 400)):
            self.refused("POST", "/mailboxes", body, status, field)
        self.api("GET", f"/mailboxes/{q(base['address'])}", expect=404)  # nothing half-saved
        _, m = self.api("POST", "/mailboxes", {**base, "quota": "1G"}, expect=201)
        self.assertEqual(m["quota_bytes"], 1 << 30)
        self.assertTrue(m["enabled"])
        self.assertNotIn("password", m)
        self.refused("POST", "/mailboxes", base, 409, "address")
        # Quota usage from the Maildir++ maildirsize file.
        md = self.st.maildir(base["address"])
        os.makedirs(md, exist_ok=True)
        with open(os.path.join(md, "maildirsize"), "w") as f:
            f.write(f"{1 << 30}S\n1000 2\n500 1\n")
        _, m = self.api("GET", f"/mailboxes/{q(base['address'])}", expect=200)
        self.assertEqual((m["used_bytes"], m["used_messages"]), (1500, 3))
        # PATCH validates everything before writing: a bad quota keeps enabled unchanged.
        self.refused("PATCH", f"/mailboxes/{q(base['address'])}", {"enabled": False, "quota": "x"},
                     422, "quota")
        _, m = self.api("GET", f"/mailboxes/{q(base['address'])}", expect=200)
        self.assertTrue(m["enabled"])
        _, m = self.api("PATCH", f"/mailboxes/{q(base['address'])}",
                        {"enabled": False, "quota": "2G", "password": "new-pw-456"}, expect=200)
        self.assertEqual((m["enabled"], m["quota_bytes"]), (False, 2 << 30))
        self.refused("PATCH", f"/mailboxes/{q(base['address'])}", {"password": ""}, 422, "password")
        _, lst = self.api("GET", f"/mailboxes?domain={DOMAIN}", expect=200)
        self.assertIn(base["address"], [x["address"] for x in lst["items"]])
        self.refused("GET", "/mailboxes?domain=unknown.example", None, 404, "domain")
        self.api("DELETE", f"/mailboxes/{q(base['address'])}", expect=204)
        self.api("DELETE", f"/mailboxes/{q(base['address'])}", expect=404)

    def test_forwarders(self):
        src = f"sales@{DOMAIN}"
        self.refused("POST", "/forwarders", {"source": src, "destinations": ["not an address"]}, 422,
                     "destinations")
        self.refused("POST", "/forwarders", {"source": src, "destinations": []}, 422, "destinations")
        self.refused("POST", "/forwarders", {"source": src, "destinations": "a@b.example"}, 400,
                     "destinations")
        self.refused("POST", "/forwarders", {"source": f"alice@{DOMAIN}", "destinations": ["x@y.example"]},
                     409, "source")
        self.refused("POST", "/forwarders", {"source": "x@unknown.example", "destinations": ["x@y.example"]},
                     422, "source")
        _, f = self.api("POST", "/forwarders", {"source": src, "destinations": ["a@remote.example"]},
                        expect=201)
        self.assertEqual(f["destinations"], ["a@remote.example"])
        _, f = self.api("PUT", f"/forwarders/{q(src)}", {"destinations": ["b@remote.example", f"alice@{DOMAIN}"]},
                        expect=200)
        self.assertEqual(sorted(f["destinations"]), sorted(["b@remote.example", f"alice@{DOMAIN}"]))
        self.refused("PUT", f"/forwarders/{q(src)}", {"destinations": [src]}, 422, "destinations")
        _, lst = self.api("GET", f"/forwarders?domain={DOMAIN}", expect=200)
        self.assertEqual([x for x in lst["items"] if x["source"] == src][0]["destinations"],
                         f["destinations"])  # the refused PUT changed nothing
        self.api("DELETE", f"/forwarders/{q(src)}", expect=204)
        self.api("DELETE", f"/forwarders/{q(src)}", expect=404)

    def test_ips_and_pools(self):
        self.refused("POST", "/pools", {"name": "Bad Name!"}, 422, "name")
        self.api("POST", "/pools", {"name": "bulk"}, expect=201)
        self.refused("POST", "/pools", {"name": "bulk"}, 409, "name")
        ip = {"address": "192.0.2.10", "hostname": "out1.panel.example", "pool": "bulk", "mx_preference": 10}
        self.refused("POST", "/ips", {**ip, "address": "192.0.2.300"}, 422, "address")
        self.refused("POST", "/ips", {**ip, "hostname": "bad host"}, 422, "hostname")
        self.refused("POST", "/ips", {**ip, "pool": "nope"}, 422, "pool")
        self.refused("POST", "/ips", {**ip, "mx_preference": 70000}, 422, "mx_preference")
        self.refused("POST", "/ips", {k: v for k, v in ip.items() if k != "hostname"}, 400, "hostname")
        _, row = self.api("POST", "/ips", ip, expect=201)
        self.assertEqual((row["family"], row["pool"], row["mx_preference"]), (4, "bulk", 10))
        self.refused("POST", "/ips", ip, 409, "address")
        _, row = self.api("PUT", "/ips/192.0.2.10", {"mx_preference": None, "pool": ""}, expect=200)
        self.assertEqual((row["mx_preference"], row["pool"], row["hostname"]), (None, "", "out1.panel.example"))
        self.api("PUT", "/ips/192.0.2.10", {"pool": "bulk"}, expect=200)
        self.refused("DELETE", "/pools/bulk", None, 409, "name")
        _, pools = self.api("GET", "/pools", expect=200)
        self.assertEqual([p["ips"] for p in pools["items"] if p["name"] == "bulk"], [1])
        self.api("PUT", "/ips/192.0.2.99", {"pool": "bulk"}, expect=404)
        self.api("DELETE", "/ips/192.0.2.10", expect=204)
        self.api("DELETE", "/pools/bulk", expect=204)

    def test_sender_and_transport_routes(self):
        self.api("POST", "/pools", {"name": "routes"}, expect=201)
        self.refused("POST", "/sender-routes", {"sender": f"news@{DOMAIN}", "pool": "nope"}, 422, "pool")
        self.api("POST", "/sender-routes", {"sender": f"news@{DOMAIN}", "pool": "routes"}, expect=201)
        self.refused("POST", "/sender-routes", {"sender": f"news@{DOMAIN}", "pool": "routes"}, 409, "sender")
        _, lst = self.api("GET", "/sender-routes", expect=200)
        self.assertIn({"sender": f"news@{DOMAIN}", "pool": "routes"}, lst["items"])
        self.api("DELETE", f"/sender-routes/{q('news@' + DOMAIN)}", expect=204)
        self.api("DELETE", "/pools/routes", expect=204)

        tr = {"destination": "partner.example", "next_hop": "smtp.partner.example", "port": 587,
              "require_tls": True}
        self.refused("POST", "/transport-routes", {**tr, "port": 0}, 422, "port")
        self.refused("POST", "/transport-routes", {**tr, "port": "25"}, 400, "port")
        self.refused("POST", "/transport-routes", {**tr, "auth_username": "u"}, 422, "password")
        self.refused("POST", "/transport-routes", {**tr, "next_hop": "bad host!"}, 422, "next_hop")
        _, row = self.api("POST", "/transport-routes", {**tr, "auth_username": "u", "password": "s3cret"},
                          expect=201)
        self.assertNotIn("password", row)
        _, lst = self.api("GET", "/transport-routes", expect=200)
        self.assertNotIn("s3cret", json.dumps(lst))
        self.refused("POST", "/transport-routes", tr, 409, "destination")
        self.api("DELETE", "/transport-routes/partner.example", expect=204)
        self.api("DELETE", "/transport-routes/partner.example", expect=404)

    def test_pacing(self):
        self.refused("POST", "/pacing", {"pattern": "bad pattern", "max_connections": 2}, 422, "pattern")
        self.refused("POST", "/pacing", {"pattern": "slow.example"}, 422, "max_connections")
        self.refused("POST", "/pacing", {"pattern": "slow.example", "max_connections": 0}, 422,
                     "max_connections")
        self.refused("POST", "/pacing", {"pattern": "slow.example", "messages_per_minute": 10 ** 7}, 422,
                     "messages_per_minute")
        self.refused("POST", "/pacing", {"pattern": "slow.example", "messages_per_connection": 1.5}, 400,
                     "messages_per_connection")
        _, r = self.api("POST", "/pacing", {"pattern": "*.slow.example", "max_connections": 2, "note": "n"},
                        expect=201)
        self.assertEqual((r["max_connections"], r["messages_per_minute"]), (2, None))
        self.refused("POST", "/pacing", {"pattern": "*.slow.example", "max_connections": 3}, 409, "pattern")
        _, r = self.api("PUT", f"/pacing/{q('*.slow.example')}", {"messages_per_minute": 30}, expect=200)
        self.assertEqual(r["messages_per_minute"], 30)
        self.api("DELETE", f"/pacing/{q('*.slow.example')}", expect=204)
        self.api("DELETE", f"/pacing/{q('*.slow.example')}", expect=404)

    def test_dkim_and_dns(self):
        self.refused("POST", "/dkim", {"domain": DOMAIN, "selector": "bad_sel!", "algorithm": "ed25519"},
                     422, "selector")
        self.refused("POST", "/dkim", {"domain": "unknown.example", "algorithm": "ed25519"}, 422, "domain")
        self.refused("POST", "/dkim", {"domain": DOMAIN, "algorithm": "dsa"}, 422, "algorithm")
        _, k = self.api("POST", "/dkim", {"domain": DOMAIN, "selector": "s1", "algorithm": "ed25519"},
                        expect=201)
        self.assertEqual(k["record"]["name"], f"s1._domainkey.{DOMAIN}")
        self.assertTrue(k["record"]["value"].startswith("v=DKIM1; k=ed25519; p="))
        self.assertNotIn("PRIVATE", json.dumps(k))
        self.refused("POST", "/dkim", {"domain": DOMAIN, "selector": "s1", "algorithm": "ed25519"}, 409,
                     "selector")
        _, k2 = self.api("PATCH", f"/dkim/{DOMAIN}/s1", {"active": False}, expect=200)
        self.assertFalse(k2["active"])
        self.api("PATCH", f"/dkim/{DOMAIN}/s1", {"active": True}, expect=200)
        _, recs = self.api("GET", f"/dns/{DOMAIN}", expect=200)
        types = {(r["name"], r["type"]) for r in recs["records"]}
        self.assertIn((f"s1._domainkey.{DOMAIN}", "TXT"), types)
        self.assertIn((f"_dmarc.{DOMAIN}", "TXT"), types)
        status, hdrs, zone = self.p.request("GET", f"/api/v1/dns/{DOMAIN}/zone",
                                            headers={"Authorization": f"Bearer {self.token}"})
        self.assertEqual(status, 200)
        self.assertTrue(hdrs["content-type"].startswith("text/plain"))
        self.assertIn(f'filename="{DOMAIN}.zone"', hdrs["content-disposition"])
        self.assertIn(f"$ORIGIN {DOMAIN}.", zone.decode())
        self.assertIn("s1._domainkey", zone.decode())
        self.api("GET", "/dns/unknown.example", expect=404)
        self.api("GET", "/dns-ptr", expect=200)
        if self.dns:
            # Publish the DMARC record exactly as expected and a wrong SPF: ok / different / missing.
            dmarc = [r for r in recs["records"] if r["name"] == f"_dmarc.{DOMAIN}"][0]["value"]
            self.dns.set_zone(DOMAIN, f'_dmarc TXT "{dmarc}"\n@ TXT "v=spf1 a mx ~all"\n')
            _, chk = self.api("GET", f"/dns/{DOMAIN}/check", expect=200)
            state = {(r["name"], r["value"].split(";")[0].split(" ")[0]): r["state"] for r in chk["records"]}
            self.assertEqual(state[(f"_dmarc.{DOMAIN}", "v=DMARC1")], "ok", chk)
            self.assertEqual(state[(DOMAIN, "v=spf1")], "different", chk)
            self.assertEqual(state[(f"s1._domainkey.{DOMAIN}", "v=DKIM1")], "missing", chk)
            self.assertGreaterEqual(chk["problems"], 2)
        self.api("DELETE", f"/dkim/{DOMAIN}/s1", expect=204)
        self.api("DELETE", f"/dkim/{DOMAIN}/s1", expect=404)

    def send_remote(self, msgid):
        with SMTPClient(self.d.smtp) as c:
            c.ehlo()
            code, text = c.send_mail("bob@sender.example", ["user1@remote.example"],
                                     make_message(msgid=msgid, to="user1@remote.example"))
            self.assertEqual(code, 250, text)
            c.cmd("QUIT")

    def test_queue_log_bounces_stats(self):
        msgid = "<panel-queue-1@sender.example>"
        self.send_remote(msgid)

        def deferred():
            _, lst = self.api("GET", "/queue?state=deferred&limit=100", expect=200)
            return [m for m in lst["items"] if m["message_id"] == msgid]
        qid = harness.wait_until(deferred, 20, what="message deferred in the queue")[0]["id"]
        _, m = self.api("GET", f"/queue/{qid}", expect=200)
        self.assertEqual(m["recipients"][0]["recipient"], "user1@remote.example")
        self.assertTrue(m["log"], "a deferred attempt is in the message's log")
        self.api("POST", f"/queue/{qid}/hold", expect=200)
        _, m = self.api("GET", f"/queue/{qid}", expect=200)
        self.assertTrue(m["held"])
        self.api("POST", f"/queue/{qid}/release", expect=200)
        _, r = self.api("POST", f"/queue/{qid}/retry", expect=200)
        self.assertEqual(r["id"], qid)
        self.refused("GET", "/queue/NOSUCHID0", None, 404, "id")
        self.refused("POST", "/queue/NOSUCHID0/retry", None, 404, "id")
        self.refused("GET", "/queue?limit=0", None, 400, "limit")
        self.refused("GET", "/queue?held=maybe", None, 400, "held")
        self.refused("GET", "/queue?colour=red", None, 400, "colour")
        self.api("GET", "/queue?state=nonsense", expect=422)
        _, log = self.api("GET", f"/log?query={q(qid)}", expect=200)
        self.assertTrue(any(r["result"] == "deferred" and r["reply"] for r in log["items"]), log)
        _, log2 = self.api("GET", f"/log?query={q(msgid)}", expect=200)
        self.assertEqual({r["queue_id"] for r in log2["items"]}, {qid})
        self.refused("GET", "/log", None, 400, "query")
        self.refused("GET", "/log?query=x&limit=5000", None, 400, "limit")
        # Bounce it by hand: it shows in /bounces with its class and reply.
        self.api("POST", f"/queue/{qid}/bounce", expect=200)
        _, b = self.api("GET", "/bounces", expect=200)
        mine = [r for r in b["items"] if r["queue_id"] == qid]
        self.assertTrue(mine, b)
        self.assertIn("5.0.0", mine[0]["reply"])
        self.assertGreaterEqual(sum(b["classes"].values()), 1)
        _, stats = self.api("GET", "/stats", expect=200)
        self.assertEqual(len(stats["hourly"]), 24)
        self.assertEqual(len(stats["daily"]), 7)
        self.assertGreaterEqual(stats["windows"]["24h"]["deferred"], 1)
        self.assertGreaterEqual(stats["windows"]["7d"]["deferred"], stats["windows"]["24h"]["deferred"])
        self.assertIn("messages", stats["status"]["queue"])
        self.assertIsInstance(stats["warnings"], list)
        # delete: another message
        msgid2 = "<panel-queue-2@sender.example>"
        self.send_remote(msgid2)
        qid2 = harness.wait_until(lambda: [m for m in self.api("GET", "/queue", expect=200)[1]["items"]
                                           if m["message_id"] == msgid2], 20, what="second message")[0]["id"]
        self.api("DELETE", f"/queue/{qid2}", expect=200)
        self.api("GET", f"/queue/{qid2}", expect=404)

    def test_suppressions(self):
        self.refused("POST", "/suppressions", {"address": "not an address"}, 422, "address")
        self.api("POST", "/suppressions", {"address": "gone@remote.example", "reason": "test"}, expect=201)
        self.refused("POST", "/suppressions", {"address": "gone@remote.example"}, 409, "address")
        _, lst = self.api("GET", "/suppressions", expect=200)
        self.assertIn("gone@remote.example", [r["address"] for r in lst["items"]])
        self.api("DELETE", f"/suppressions/{q('gone@remote.example')}", expect=204)
        self.refused("DELETE", f"/suppressions/{q('gone@remote.example')}", None, 404, "address")

    def test_autoresponders(self):
        mb = q(f"alice@{DOMAIN}")
        good = {"subject": "Away", "body_text": "I am away.", "start_at": "2026-12-24",
                "end_at": "2026-12-31", "interval_days": 3}
        self.refused("PUT", f"/autoresponders/{mb}", {**good, "start_at": "24.12.2026"}, 422, "start_at")
        self.refused("PUT", f"/autoresponders/{mb}", {**good, "interval_days": 0}, 422, "interval_days")
        self.refused("PUT", f"/autoresponders/{mb}", {**good, "body_text": 5}, 400, "body_text")
        self.refused("PUT", f"/autoresponders/{mb}", {**good, "start_at": "2027-01-10"}, 422, "start_at")
        self.refused("PUT", f"/autoresponders/{mb}", {**good, "subject": "a" * 901}, 422, "subject")
        self.refused("PUT", f"/autoresponders/{q('nobody@' + DOMAIN)}", good, 404, "mailbox")
        self.api("GET", f"/autoresponders/{mb}", expect=404)  # nothing half-saved
        _, a = self.api("PUT", f"/autoresponders/{mb}", good, expect=200)
        self.assertEqual((a["subject"], a["interval_days"], a["enabled"]), ("Away", 3, True))
        self.assertEqual(a["end_at"] - a["start_at"], 8 * 86400 - 1)  # end of day, inclusive
        _, lst = self.api("GET", "/autoresponders", expect=200)
        self.assertIn(f"alice@{DOMAIN}", [x["mailbox"] for x in lst["items"]])
        self.api("DELETE", f"/autoresponders/{mb}", expect=204)
        self.api("DELETE", f"/autoresponders/{mb}", expect=404)

    def test_spam_settings_rules_lists_zones(self):
        self.refused("PUT", "/spam/settings", {"tag_threshold": 9, "junk_threshold": 5}, 422, "tag_threshold")
        self.refused("PUT", "/spam/settings", {"dmarc_reject_action": "explode"}, 422, "dmarc_reject_action")
        self.refused("PUT", "/spam/settings", {"tag_threshold": "high"}, 400, "tag_threshold")
        _, s = self.api("PUT", "/spam/settings", {"tag_threshold": 4.5, "reject_threshold": 20}, expect=200)
        self.assertEqual(s["effective"]["tag_threshold"], 4.5)
        self.api("PUT", "/spam/settings/unknown.example", {"enabled": False}, expect=404)
        _, s = self.api("PUT", f"/spam/settings/{DOMAIN}", {"enabled": False}, expect=200)
        self.assertFalse(s["effective"]["enabled"])
        self.api("PUT", f"/spam/settings/{DOMAIN}", {}, expect=200)
        self.api("PUT", "/spam/settings", {}, expect=200)

        rule = {"name": "viagra", "target": "header", "header_name": "subject", "pattern": "(?i)v[i1]agra",
                "score": 5}
        self.refused("POST", "/spam/rules", {**rule, "pattern": "(unclosed"}, 422, "pattern")
        self.refused("POST", "/spam/rules", {**rule, "target": "envelope"}, 422, "target")
        self.refused("POST", "/spam/rules", {**rule, "score": 500}, 422, "score")
        self.refused("POST", "/spam/rules", {**rule, "score": "5"}, 400, "score")
        self.refused("POST", "/spam/rules", {**rule, "name": "bad name!"}, 422, "name")
        self.api("POST", "/spam/rules", rule, expect=201)
        self.refused("POST", "/spam/rules", rule, 409, "name")
        _, lst = self.api("GET", "/spam/rules", expect=200)
        self.assertEqual([r["name"] for r in lst["items"]], ["viagra"])
        self.api("DELETE", "/spam/rules/viagra", expect=204)
        self.api("DELETE", "/spam/rules/viagra", expect=404)

        entry = {"list": "block", "direction": "sender", "entry": "@spammer.example"}
        self.refused("POST", "/spam/lists", {**entry, "list": "grey"}, 422, "list")
        self.refused("POST", "/spam/lists", {**entry, "direction": "both"}, 422, "direction")
        self.refused("POST", "/spam/lists", {**entry, "entry": "not valid!"}, 422, "entry")
        self.api("POST", "/spam/lists", entry, expect=201)
        _, lst = self.api("GET", "/spam/lists?list=block", expect=200)
        self.assertIn("@spammer.example", [e["entry"] for e in lst["items"]])
        self.api("DELETE", "/spam/lists", entry, expect=204)
        _, lst = self.api("GET", "/spam/lists?list=block", expect=200)
        self.assertNotIn("@spammer.example", [e["entry"] for e in lst["items"]])

        self.refused("POST", "/spam/dnsbl", {"zone": "bad zone"}, 422, "zone")
        self.refused("POST", "/spam/dnsbl", {"zone": "bl.example", "match": "10.0.0.0/8"}, 422, "match")
        _, z = self.api("POST", "/spam/dnsbl", {"zone": "bl.example"}, expect=201)
        self.assertEqual((z["list"], z["match"]), ("block", "127.0.0.0/8"))
        self.refused("POST", "/spam/dnsbl", {"zone": "bl.example"}, 409, "zone")
        if self.dns:
            # Reputation: 192.0.2.1 is listed, its PTR names a host that resolves back to it.
            self.api("POST", "/ips", {"address": "192.0.2.1", "hostname": f"out9.{DOMAIN}"}, expect=201)
            self.dns.set_zone("bl.example", "1.2.0.192 A 127.0.0.2\n")
            self.dns.set_zone("2.0.192.in-addr.arpa", f"1 PTR out9.{DOMAIN}.\n")
            self.dns.set_zone(DOMAIN, "out9 A 192.0.2.1\n")
            _, rep = self.api("GET", "/reputation", expect=200)
            mine = [i for i in rep["items"] if i["address"] == "192.0.2.1"][0]
            self.assertEqual(mine["ptr"]["state"], "ok", mine)
            self.assertEqual(mine["dnsbl"], [{"zone": "bl.example", "state": "listed", "answer": "127.0.0.2"}])
            self.dns.set_zone("bl.example", "x A 127.0.0.1\n")
            self.dns.set_zone(DOMAIN, "out9 A 192.0.2.99\n")
            _, rep = self.api("GET", "/reputation", expect=200)
            mine = [i for i in rep["items"] if i["address"] == "192.0.2.1"][0]
            self.assertEqual(mine["ptr"]["state"], "different", mine)  # not forward-confirmed
            self.assertEqual(mine["dnsbl"][0]["state"], "not listed")
            self.api("DELETE", "/ips/192.0.2.1", expect=204)
        self.api("DELETE", "/spam/dnsbl/bl.example", expect=204)

    def test_carteroctl_admin(self):
        out = self.st.ctl("admin", "list").stdout
        self.assertIn("admin\t", out)
        self.assertIn("lockme\t", out)
        p = self.st.ctl("admin", "add", "admin", "--password-stdin", input="x-password\n", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("already exists", p.stderr)
        p = self.st.ctl("admin", "add", "bad name", "--password-stdin", input="x-password\n", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.st.ctl("admin", "add", "temp", "--password-stdin", input="temp-password\n")
        tok = self.st.ctl("admin", "token", "temp").stdout.strip()
        self.api("GET", "/domains", token=False, headers={"Authorization": f"Bearer {tok}"}, expect=200)
        self.st.ctl("admin", "remove", "temp")
        self.api("GET", "/domains", token=False, headers={"Authorization": f"Bearer {tok}"}, expect=401)


class PanelWithoutCarterod(harness.CarteroTestCase):
    """Queue views answer 503 when carterod is not running; config pages still work."""

    def test_503_without_carterod_and_init_prints_admin(self):
        st = StateDir(domains=(DOMAIN,))
        try:
            # init prints the first admin's name and random password.
            p = subprocess.run([harness.binary("carteroctl"), "--state-dir",
                                os.path.join(st.tmp, "fresh"), "init", "--hostname", "mx.panel.example"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = dict(line.split(": ", 1) for line in p.stdout.splitlines() if ": " in line)
            self.assertEqual(lines.get("panel admin"), "admin")
            self.assertGreaterEqual(len(lines.get("panel password", "")), 16)
            panel = Panel(st)
            try:
                status, hdrs, data = panel.request("POST", "/api/v1/session",
                                                   {"username": "admin", "password": "x"})
                self.assertEqual(status, 401)
                token = st.ctl("admin", "token", "admin").stdout.strip()
                h = {"Authorization": f"Bearer {token}"}
                status, _, data = panel.request("GET", "/api/v1/queue", headers=h)
                self.assertEqual(status, 503, data)
                self.assertIn(b"not running", data)
                status, _, _ = panel.request("GET", "/api/v1/domains", headers=h)
                self.assertEqual(status, 200)
            finally:
                panel.stop()
        finally:
            st.cleanup()


class PanelListeners(harness.CarteroTestCase):
    """--listen repeats (several HTTPS addresses, the appliance's IPv4 + IPv6 pair); an IPv6
    address is served on [::1], or — with a CivetWeb built without IPv6, as Debian's is — refused
    at start with a message saying so, never half-started; bad addresses name the flag."""

    @staticmethod
    def get(host, port):
        c = http.client.HTTPSConnection(host, port, context=harness.ssl_client_context(), timeout=10)
        try:
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def run_panel(self, st, *listen):
        cmd = [panel_binary(), "--state-dir", st.path]
        for a in listen:
            cmd += ["--listen", a]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=10)

    def test_repeated_listen_serves_every_address(self):
        st = StateDir(domains=(DOMAIN,))
        self.addCleanup(st.cleanup)
        second = harness.free_port()
        p = Panel(st, extra=("--listen", f"127.0.0.2:{second}"))
        self.addCleanup(p.stop)
        harness.wait_until(lambda: harness.port_open(second, "127.0.0.2"), 10, what="second listener")
        self.assertEqual(self.get("127.0.0.1", p.port), 200)
        self.assertEqual(self.get("127.0.0.2", second), 200)

    def test_ipv6_listener_served_or_refused_clearly(self):
        st = StateDir(domains=(DOMAIN,))
        self.addCleanup(st.cleanup)
        port = harness.free_port()
        proc = self.run_panel(st, f"127.0.0.1:{port}", f"[::1]:{port}")
        self.addCleanup(self.stop, proc)
        harness.wait_until(lambda: harness.port_open(port) or proc.poll() is not None, 10,
                           what="cartero-panel listening or exiting")
        if proc.poll() is not None:
            _, err = proc.communicate(timeout=5)
            self.assertEqual(proc.returncode, 1, err)
            self.assertIn("without IPv6 support", err)
            self.assertFalse(harness.port_open(port), "nothing may stay listening")
            print("  (this CivetWeb has no IPv6: the panel refused [::1] at start, as it should)")
            return
        harness.wait_until(lambda: harness.port_open(port, "::1"), 10, what="[::1] listener")
        self.assertEqual(self.get("::1", port), 200)
        self.assertEqual(self.get("127.0.0.1", port), 200)

    def test_bad_listen_addresses_refused(self):
        st = StateDir(domains=(DOMAIN,))
        self.addCleanup(st.cleanup)
        for bad in ("127.0.0.1", "[::1:443", "127.0.0.1:70000", "1.2.3.4,127.0.0.1:443"):
            proc = self.run_panel(st, f"127.0.0.1:{harness.free_port()}", bad)
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self.stop(proc)
                self.fail(f"cartero-panel kept running with --listen {bad}")
            self.assertEqual(proc.returncode, 1, (bad, err))
            self.assertIn(f'--listen: "{bad}"', err)


if __name__ == "__main__":
    harness.main()
