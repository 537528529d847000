// tests/unit/mailauth/spf_test.cpp — SPF check_host() over a fake DNS: every mechanism,
// qualifiers, modifiers, macros, the lookup and void limits, HELO and the null sender.
#include "daemon/mailauth/spf.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <utility>

using namespace cartero::mailauth;

namespace {

struct fake_dns {
    std::map<std::pair<std::string, spf_query>, std::vector<std::string>> rr;
    std::vector<std::string> temporary; // names that fail temporarily
    std::vector<std::string> asked;

    void txt(const std::string& n, const std::string& v) { rr[{n, spf_query::txt}].push_back(v); }
    void add(const std::string& n, spf_query t, const std::string& v) { rr[{n, t}].push_back(v); }

    spf_lookup lookup() {
        return [this](std::string_view name, spf_query type) {
            asked.emplace_back(name);
            spf_dns_reply r;
            for (const auto& t : temporary)
                if (t == name) {
                    r.status = spf_dns_reply::status::temporary;
                    return r;
                }
            auto it = rr.find({std::string(name), type});
            if (it != rr.end()) {
                r.records = it->second;
                return r;
            }
            bool exists = false;
            for (const auto& [k, v] : rr) exists = exists || k.first == name;
            if (!exists) r.status = spf_dns_reply::status::nxdomain;
            return r;
        };
    }
};

spf_result check(fake_dns& d, const std::string& ip, const std::string& from,
                 const std::string& helo = "mail.example.net") {
    spf_checker c(d.lookup());
    spf_request rq;
    rq.ip = ip;
    rq.mail_from = from;
    rq.helo = helo;
    rq.receiver = "mx.example.test";
    rq.now = 1700000000;
    return c.check_mail_from(rq).result;
}

} // namespace

TEST_CASE("spf: all and qualifiers, none, several records") {
    fake_dns d;
    d.txt("p.example", "v=spf1 +all");
    d.txt("f.example", "v=spf1 -all");
    d.txt("s.example", "v=spf1 ~all");
    d.txt("n.example", "v=spf1 ?all");
    d.txt("e.example", "v=spf1");
    d.txt("two.example", "v=spf1 -all");
    d.txt("two.example", "v=spf1 +all");
    d.txt("other.example", "v=spf10 +all");
    CHECK(check(d, "192.0.2.1", "a@p.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.1", "a@f.example") == spf_result::fail);
    CHECK(check(d, "192.0.2.1", "a@s.example") == spf_result::softfail);
    CHECK(check(d, "192.0.2.1", "a@n.example") == spf_result::neutral);
    CHECK(check(d, "192.0.2.1", "a@e.example") == spf_result::neutral);
    CHECK(check(d, "192.0.2.1", "a@two.example") == spf_result::permerror);
    CHECK(check(d, "192.0.2.1", "a@other.example") == spf_result::none);
    CHECK(check(d, "192.0.2.1", "a@missing.example") == spf_result::none);
    CHECK(check(d, "192.0.2.1", "a@localhost") == spf_result::none);
}

TEST_CASE("spf: ip4, ip6, a, mx, ptr, exists") {
    fake_dns d;
    d.txt("ip.example", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all");
    d.txt("a.example", "v=spf1 a a:host.example/24//64 -all");
    d.add("a.example", spf_query::a, "198.51.100.1");
    d.add("host.example", spf_query::a, "203.0.113.5");
    d.add("host.example", spf_query::aaaa, "2001:db8:5::1");
    d.txt("mx.example", "v=spf1 mx -all");
    d.add("mx.example", spf_query::mx, "mx1.mx.example");
    d.add("mx1.mx.example", spf_query::a, "192.0.2.25");
    d.txt("ptr.example", "v=spf1 ptr -all");
    d.add("7.2.0.192.in-addr.arpa", spf_query::ptr, "h.ptr.example.");
    d.add("h.ptr.example", spf_query::a, "192.0.2.7");
    d.add("8.2.0.192.in-addr.arpa", spf_query::ptr, "liar.ptr.example");
    d.add("liar.ptr.example", spf_query::a, "192.0.2.99");
    d.txt("ex.example", "v=spf1 exists:%{i}.ok.ex.example -all");
    d.add("192.0.2.9.ok.ex.example", spf_query::a, "127.0.0.2");
    CHECK(check(d, "192.0.2.200", "a@ip.example") == spf_result::pass);
    CHECK(check(d, "2001:db8:ff::1", "a@ip.example") == spf_result::pass);
    CHECK(check(d, "::ffff:192.0.2.1", "a@ip.example") == spf_result::pass);
    CHECK(check(d, "198.51.100.2", "a@ip.example") == spf_result::fail);
    CHECK(check(d, "198.51.100.1", "a@a.example") == spf_result::pass);
    CHECK(check(d, "203.0.113.77", "a@a.example") == spf_result::pass); // /24
    CHECK(check(d, "2001:db8:5::ffff", "a@a.example") == spf_result::pass); // //64
    CHECK(check(d, "203.0.114.1", "a@a.example") == spf_result::fail);
    CHECK(check(d, "192.0.2.25", "a@mx.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.26", "a@mx.example") == spf_result::fail);
    CHECK(check(d, "192.0.2.7", "a@ptr.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.8", "a@ptr.example") == spf_result::fail); // not validated
    CHECK(check(d, "192.0.2.9", "a@ex.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.10", "a@ex.example") == spf_result::fail);
}

TEST_CASE("spf: include, redirect, exp") {
    fake_dns d;
    d.txt("inc.example", "v=spf1 include:pass.example include:fail.example ~all");
    d.txt("pass.example", "v=spf1 ip4:192.0.2.1 -all");
    d.txt("fail.example", "v=spf1 -all");
    d.txt("incnone.example", "v=spf1 include:nothing.example -all");
    d.txt("inctemp.example", "v=spf1 include:slow.example -all");
    d.temporary.push_back("slow.example");
    d.txt("red.example", "v=spf1 ip4:198.51.100.1 redirect=pass.example");
    d.txt("rednone.example", "v=spf1 redirect=nothing.example");
    d.txt("exp.example", "v=spf1 -all exp=why.exp.example");
    d.txt("why.exp.example", "%{i} is not allowed for %{d} (%{c}, %{r})");
    CHECK(check(d, "192.0.2.1", "a@inc.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.2", "a@inc.example") == spf_result::softfail);
    CHECK(check(d, "192.0.2.2", "a@incnone.example") == spf_result::permerror);
    CHECK(check(d, "192.0.2.2", "a@inctemp.example") == spf_result::temperror);
    CHECK(check(d, "198.51.100.1", "a@red.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.1", "a@red.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.2", "a@red.example") == spf_result::fail);
    CHECK(check(d, "192.0.2.2", "a@rednone.example") == spf_result::permerror);
    spf_checker c(d.lookup());
    spf_request rq;
    rq.ip = "192.0.2.3";
    rq.mail_from = "u@exp.example";
    rq.receiver = "mx.example.test";
    auto o = c.check_mail_from(rq);
    CHECK(o.result == spf_result::fail);
    CHECK(o.explanation == "192.0.2.3 is not allowed for exp.example (192.0.2.3, mx.example.test)");
}

TEST_CASE("spf: macros (RFC 7208 §7.4 examples)") {
    fake_dns d;
    // Two void lookups per record at most: the third would be permerror.
    d.txt("email.example.com", "v=spf1 exists:%{ir}.%{v}._spf.%{d2} exists:%{lr-}.lp.%{d2} "
                               "redirect=r.example.com");
    d.txt("r.example.com", "v=spf1 exists:%{l1r+}.p1.%{d} -all");
    spf_checker c(d.lookup());
    spf_request rq;
    rq.ip = "192.0.2.3";
    rq.mail_from = "strong-bad@email.example.com";
    rq.helo = "mx.example.org";
    CHECK(c.check_mail_from(rq).result == spf_result::permerror); // third void lookup
    std::vector<std::string> want = {"email.example.com", "3.2.0.192.in-addr._spf.example.com",
                                     "bad.strong.lp.example.com", "r.example.com",
                                     "strong-bad.p1.r.example.com"};
    CHECK(d.asked == want);

    fake_dns e;
    e.txt("x.example", "v=spf1 exists:%{L}.%%%_%-.%{h}.%{s}.u.x.example -all");
    spf_checker c2(e.lookup());
    rq.mail_from = "a+b@x.example";
    c2.check_mail_from(rq);
    REQUIRE(e.asked.size() == 2);
    // %{L} is URL-escaped; %_ is a space, %- is %20 (those names cannot exist: void, no query)
    CHECK(e.asked[1] == "a%2bb.% %20.mx.example.org.a+b@x.example.u.x.example");

    fake_dns v6;
    v6.txt("six.example", "v=spf1 exists:%{ir}.%{v}.six.example -all");
    spf_checker c3(v6.lookup());
    rq.ip = "2001:db8::cb01";
    rq.mail_from = "u@six.example";
    c3.check_mail_from(rq);
    REQUIRE(v6.asked.size() == 2);
    CHECK(v6.asked[1] ==
          "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.six.example");
}

TEST_CASE("spf: syntax errors anywhere are permerror") {
    for (const char* rec : {"v=spf1 +all frob", "v=spf1 ip4:192.0.2.300", "v=spf1 ip4:1.2.3.4/33",
                            "v=spf1 a:h.example//129", "v=spf1 -all:x", "v=spf1 include",
                            "v=spf1 a:localhost", "v=spf1 exists:%{q}.example",
                            "v=spf1 exists:%{c}.x.example", "v=spf1 %x", "v=spf1 !all",
                            "v=spf1 redirect=a.example redirect=b.example",
                            "v=spf1 exp=a.example exp=a.example", "v=spf1 foo=%{z}"}) {
        fake_dns d;
        d.txt("s.example", rec);
        INFO(rec);
        CHECK(check(d, "192.0.2.1", "a@s.example") == spf_result::permerror);
    }
    fake_dns d;
    d.txt("ok.example", "v=spf1 foo=%{l}.bar unknown-mod=1 +all");
    CHECK(check(d, "192.0.2.1", "a@ok.example") == spf_result::pass);
}

TEST_CASE("spf: 10 DNS terms, 2 void lookups, 10 MX names") {
    fake_dns d;
    std::string ten = "v=spf1", eleven = "v=spf1";
    for (int i = 0; i < 10; ++i) {
        std::string n = "h" + std::to_string(i) + ".example";
        d.add(n, spf_query::a, "198.51.100." + std::to_string(i + 1));
        ten += " a:" + n;
        eleven += " a:" + n;
    }
    eleven += " a:h0.example";
    d.txt("ten.example", ten + " ip4:192.0.2.1 -all");
    d.txt("eleven.example", eleven + " ip4:192.0.2.1 -all");
    CHECK(check(d, "192.0.2.1", "a@ten.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.1", "a@eleven.example") == spf_result::permerror);
    CHECK(check(d, "198.51.100.1", "a@eleven.example") == spf_result::pass); // before the limit

    d.txt("void2.example", "v=spf1 a:nx1.example a:nx2.example ip4:192.0.2.1 -all");
    d.txt("void3.example", "v=spf1 a:nx1.example a:nx2.example a:nx3.example ip4:192.0.2.1 -all");
    CHECK(check(d, "192.0.2.1", "a@void2.example") == spf_result::pass);
    CHECK(check(d, "192.0.2.1", "a@void3.example") == spf_result::permerror);

    d.txt("mx11.example", "v=spf1 mx -all");
    for (int i = 0; i < 11; ++i) d.add("mx11.example", spf_query::mx, "m" + std::to_string(i) + ".example");
    CHECK(check(d, "192.0.2.1", "a@mx11.example") == spf_result::permerror);
}

TEST_CASE("spf: HELO identity and the null sender") {
    fake_dns d;
    d.txt("mail.example.net", "v=spf1 ip4:192.0.2.1 -all");
    d.txt("l.example.net", "v=spf1 exists:%{l}.%{o}.l.example.net -all");
    d.add("postmaster.l.example.net.l.example.net", spf_query::a, "127.0.0.2");
    spf_checker c(d.lookup());
    spf_request rq;
    rq.ip = "192.0.2.1";
    rq.helo = "mail.example.net";
    auto h = c.check_helo(rq);
    CHECK(h.result == spf_result::pass);
    CHECK(h.sender == "postmaster@mail.example.net");
    auto m = c.check_mail_from(rq); // <> → postmaster@helo
    CHECK(m.result == spf_result::pass);
    CHECK(m.domain == "mail.example.net");
    rq.helo = "l.example.net";
    CHECK(c.check_mail_from(rq).result == spf_result::pass);
    rq.helo = "[192.0.2.1]";
    CHECK(c.check_helo(rq).result == spf_result::none);
}
