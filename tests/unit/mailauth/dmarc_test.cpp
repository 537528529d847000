// tests/unit/mailauth/dmarc_test.cpp — DMARC records, organisational domains, alignment, the
// verdict and policy (with pct), and Authentication-Results rendering and stripping.
#include "daemon/mailauth/auth_results.hpp"
#include "daemon/mailauth/dmarc.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace cartero::mailauth;

namespace {

key_lookup fake(std::map<std::string, std::vector<std::string>> txt) {
    return [txt](std::string_view name) {
        key_lookup_result r;
        auto it = txt.find(std::string(name));
        if (it == txt.end()) return r; // nxdomain
        r.status = key_lookup_result::status::ok;
        r.txt = it->second;
        return r;
    };
}

dkim_result dkim_pass(const std::string& d) {
    dkim_result r;
    r.status = dkim_status::pass;
    r.domain = d;
    r.identity = "@" + d;
    r.selector = "s1";
    r.algorithm = "rsa-sha256";
    r.b_prefix = "abcdefghijkl";
    return r;
}

} // namespace

TEST_CASE("dmarc: record parsing") {
    auto r = parse_dmarc_record("v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; "
                                "rua=mailto:a@example.com,mailto:b@example.com");
    REQUIRE(r);
    CHECK(r->p == dmarc_policy::reject);
    CHECK(r->sp == dmarc_policy::quarantine);
    CHECK(r->pct == 50);
    CHECK(r->adkim_strict);
    CHECK_FALSE(r->aspf_strict);
    CHECK(r->rua.size() == 2);
    CHECK_FALSE(parse_dmarc_record("p=reject; v=DMARC1"));
    CHECK_FALSE(parse_dmarc_record("v=DMARC1; p=bogus"));
    auto rua_only = parse_dmarc_record("v=DMARC1; p=bogus; rua=mailto:a@example.com");
    REQUIRE(rua_only);
    CHECK(rua_only->p == dmarc_policy::none);
}

TEST_CASE("dmarc: organisational domain and alignment") {
    CHECK(organizational_domain("mail.example.com") == "example.com");
    CHECK(organizational_domain("a.b.example.co.uk") == "example.co.uk");
    CHECK(organizational_domain("Example.COM.") == "example.com");
    CHECK(organizational_domain("co.uk") == "co.uk");
    CHECK(aligned("bounce.example.com", "example.com", false));
    CHECK_FALSE(aligned("bounce.example.com", "example.com", true));
    CHECK(aligned("EXAMPLE.com", "example.com", true));
    CHECK_FALSE(aligned("example.co.uk", "other.co.uk", false));
}

TEST_CASE("dmarc: verdicts, sp, pct") {
    auto txt = fake({{"_dmarc.example.com", {"v=DMARC1; p=reject; sp=quarantine"}},
                     {"_dmarc.strict.example", {"v=DMARC1; p=reject; aspf=s; adkim=s"}},
                     {"_dmarc.half.example", {"v=DMARC1; p=reject; pct=0"}},
                     {"_dmarc.two.example", {"v=DMARC1; p=reject", "v=DMARC1; p=none"}}});
    dmarc_input in;
    in.from_domain = "example.com";
    in.spf = spf_result::pass;
    in.spf_domain = "bounces.example.com";
    auto o = evaluate_dmarc(in, txt);
    CHECK(o.status == dmarc_status::pass);
    CHECK(o.spf_aligned);

    in.spf = spf_result::fail;
    o = evaluate_dmarc(in, txt);
    CHECK(o.status == dmarc_status::fail);
    CHECK(o.applied == dmarc_policy::reject);
    CHECK(o.record_domain == "example.com");

    in.dkim = {dkim_pass("mail.example.com")};
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::pass);
    in.dkim[0].uses_length_limit = true; // l= is not trusted
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::fail);
    in.dkim = {dkim_pass("other.example")};
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::fail);

    in.from_domain = "news.example.com"; // subdomain: sp= from the organisational domain
    o = evaluate_dmarc(in, txt);
    CHECK(o.status == dmarc_status::fail);
    CHECK(o.requested == dmarc_policy::quarantine);
    CHECK(o.record_domain == "example.com");

    in.from_domain = "strict.example";
    in.spf = spf_result::pass;
    in.spf_domain = "b.strict.example";
    in.dkim = {dkim_pass("sub.strict.example")};
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::fail);

    in.from_domain = "half.example";
    in.spf = spf_result::fail;
    in.dkim.clear();
    o = evaluate_dmarc(in, txt);
    CHECK(o.applied == dmarc_policy::quarantine); // pct=0: reject becomes quarantine

    in.from_domain = "two.example";
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::none);
    in.from_domain = "nothing.example";
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::none);
    in.from_domains = 2;
    CHECK(evaluate_dmarc(in, txt).status == dmarc_status::permerror);

    auto temp = [](std::string_view) {
        key_lookup_result r;
        r.status = key_lookup_result::status::temporary;
        return r;
    };
    in.from_domains = 1;
    CHECK(evaluate_dmarc(in, temp).status == dmarc_status::temperror);
}

TEST_CASE("auth-results: rendering") {
    auth_results_input in;
    in.authserv_id = "mx.example.test";
    in.mail_from = "alice@example.com";
    in.helo = "mail.example.com";
    spf_outcome s;
    s.result = spf_result::pass;
    in.spf_mail_from = s;
    s.result = spf_result::none;
    in.spf_helo = s;
    in.dkim = {dkim_pass("example.com")};
    dmarc_outcome m;
    m.status = dmarc_status::pass;
    m.from_domain = "example.com";
    m.record.p = dmarc_policy::reject;
    in.dmarc = m;
    CHECK(render_auth_results(in) ==
          "Authentication-Results: mx.example.test;\r\n"
          "\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
          "\tspf=none smtp.helo=mail.example.com;\r\n"
          "\tdkim=pass header.d=example.com header.i=@example.com header.s=s1 "
          "header.a=rsa-sha256 header.b=abcdefghijkl;\r\n"
          "\tdmarc=pass (p=reject dis=none) header.from=example.com\r\n");
    in.dkim.clear();
    in.mail_from = "odd\"local@example.com";
    auto h = render_auth_results(in);
    CHECK(h.find("dkim=none") != std::string::npos);
    CHECK(h.find("smtp.mailfrom=\"odd\\\"local@example.com\"") != std::string::npos);
}

TEST_CASE("auth-results: forged fields with our authserv-id are removed") {
    std::string msg = "Authentication-Results: MX.example.test; dkim=pass header.d=bank.example\r\n"
                      "Received: from x\r\n"
                      "Authentication-Results: (comment) mx.example.test;\r\n spf=pass\r\n"
                      "Authentication-Results: other.example; spf=fail\r\n"
                      "From: a@example.com\r\n\r\nAuthentication-Results: mx.example.test; body\r\n";
    std::size_t n = 0;
    auto out = strip_forged_auth_results(msg, "mx.example.test", &n);
    CHECK(n == 2);
    CHECK(out == "Received: from x\r\n"
                 "Authentication-Results: other.example; spf=fail\r\n"
                 "From: a@example.com\r\n\r\nAuthentication-Results: mx.example.test; body\r\n");
    CHECK(authserv_id_of(" \"quoted.example\"; none") == "quoted.example");
}

TEST_CASE("auth-results: From domains") {
    CHECK(from_domains("From: \"A, B\" <a@Example.COM> (c@d.example)\r\n\r\n") ==
          std::vector<std::string>{"example.com"});
    CHECK(from_domains("From: a@x.example, b@y.example\r\n\r\n").size() == 2);
    CHECK(from_domains("Subject: none\r\n\r\n").empty());
}
