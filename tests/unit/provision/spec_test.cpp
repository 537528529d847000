// tests/unit/provision/spec_test.cpp — customer spec parsing: a good spec's model, and every kind
// of bad spec reported with its field path (all errors at once).
#include "provisioning/spec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace cartero::provision;

namespace {

const std::string good = R"(
customer: acme
domains:
  primary: Acme.Example
  extra: [shop.example]
admin_email: IT@acme.example
hostnames:
  - name: mx1.acme.example
    mx_preference: 10
  - name: out1.acme.example
ips:
  - address: 192.0.2.10
    hostname: mx1.acme.example
    pool: default
  - address: 2001:DB8::10
    hostname: mx1.acme.example
  - address: 192.0.2.20
    hostname: out1.acme.example
    pool: Bulk
mailboxes:
  - address: alice@acme.example
    quota: 2G
forwarders:
  - source: "@shop.example"
    to: [alice@acme.example]
smarthost: "[2001:db8::25]:2525"
)";

// The errors of `text`, which must be invalid.
std::vector<std::string> errors_of(const std::string& text) {
    auto r = parse_spec(text);
    REQUIRE_FALSE(r.ok());
    return r.errors;
}

bool has(const std::vector<std::string>& errs, const std::string& piece) {
    return std::any_of(errs.begin(), errs.end(),
                       [&](const std::string& e) { return e.find(piece) != std::string::npos; });
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
}

} // namespace

TEST_CASE("a good spec is normalised and defaulted", "[spec]") {
    auto r = parse_spec(good);
    INFO((r.errors.empty() ? "" : r.errors.front()));
    REQUIRE(r.ok());
    const auto& s = r.spec;
    CHECK(s.customer == "acme");
    CHECK(s.domains() == std::vector<std::string>{"acme.example", "shop.example"});
    CHECK(s.admin_email == "it@acme.example");
    CHECK(s.postmaster == "it@acme.example");
    CHECK(s.dmarc_policy == "none");
    CHECK(s.dmarc_rua == "it@acme.example");
    CHECK(s.tlsrpt_rua == "it@acme.example");
    REQUIRE(s.dkim.size() == 1);
    CHECK(s.dkim[0].selector == "cartero");
    CHECK(s.dkim[0].algorithm == "rsa");
    REQUIRE(s.ips.size() == 3);
    CHECK(s.ips[1].address == "2001:db8::10");
    CHECK(s.ips[1].family == 6);
    CHECK(s.ips[1].pool.empty());
    CHECK(s.ips[2].pool == "bulk");
    CHECK(s.server_hostname() == "mx1.acme.example");
    REQUIRE(s.mailboxes.size() == 1);
    CHECK(s.mailboxes[0].quota_bytes == 2ull << 30);
    REQUIRE(s.forwarders.size() == 1);
    CHECK(s.forwarders[0].source == "@shop.example");
    REQUIRE(s.smarthost);
    CHECK(s.smarthost->host == "2001:db8::25");
    CHECK(s.smarthost->port == 2525);
}

TEST_CASE("bad specs: each error names the field path and what is wrong", "[spec]") {
    struct bad {
        std::string from, to, error;
    };
    const std::vector<bad> cases = {
        {"address: 192.0.2.20", "address: 10.0.0.300", "ips[2].address: 10.0.0.300 is not an IPv4 address"},
        {"address: 2001:DB8::10", "address: 2001:db8:::10", "ips[1].address: 2001:db8:::10 is not an IPv6 address"},
        {"    mx_preference: 10", "    mx_prefernce: 10", "hostnames[0].mx_prefernce: unknown key"},
        {"customer: acme", "customer: acme\ncolour: blue", "colour: unknown key"},
        {"customer: acme", "customer: Acme Corp", "customer: Acme Corp is not 1-63"},
        {"admin_email: IT@acme.example", "admin_email: not-an-address", "admin_email: "},
        {"    hostname: out1.acme.example", "    hostname: out2.acme.example",
         "ips[2].hostname: out2.acme.example is not one of the names under hostnames"},
        {"  - address: 192.0.2.20", "  - address: 192.0.2.10", "ips[2].address: 192.0.2.10 is listed twice"},
        {"    mx_preference: 10", "    mx_preference: 70000", "hostnames[0].mx_preference: 70000 is not a number"},
        {"    quota: 2G", "    quota: 2 gigs", "mailboxes[0].quota: "},
        {"  - address: alice@acme.example", "  - address: alice@other.example",
         "mailboxes[0].address: alice@other.example is not in one of the spec's domains"},
        {"    to: [alice@acme.example]", "    to: []", "forwarders[0].to: must not be empty"},
        {"smarthost: \"[2001:db8::25]:2525\"", "smarthost: relay.example:99999",
         "smarthost: port 99999 is not a number from 1 to 65535"},
        {"  - name: out1.acme.example", "  - name: out1.elsewhere.example",
         "hostnames[1].name: out1.elsewhere.example is not under any of the spec's domains"},
        {"  primary: Acme.Example", "  primary: acme..example", "domains.primary: "},
        {"customer: acme", "customer: acme\ndkim:\n  - selector: s1\n    algorithm: dsa",
         "dkim[0].algorithm: dsa is not rsa or ed25519"},
        {"customer: acme", "customer: acme\ndmarc:\n  policy: strict",
         "dmarc.policy: strict is not none, quarantine or reject"},
        {"customer: acme", "customer: acme\ncustomer: other", "customer: given twice"},
        {"    pool: default", "    pool: [a, b]", "ips[0].pool: must be a single value"},
    };
    for (const auto& c : cases) {
        SECTION(c.error) {
            auto errs = errors_of(replace(good, c.from, c.to));
            INFO(errs.front());
            CHECK(has(errs, c.error));
            CHECK(has(errs, "(line "));
        }
    }
}

TEST_CASE("missing required fields are each reported", "[spec]") {
    auto errs = errors_of("version: 1\n");
    CHECK(has(errs, "customer: is required"));
    CHECK(has(errs, "domains: is required"));
    CHECK(has(errs, "admin_email: is required"));
    CHECK(has(errs, "hostnames: is required"));
    CHECK(has(errs, "ips: is required"));
}

TEST_CASE("all errors are reported at once, not just the first", "[spec]") {
    std::string t = replace(good, "address: 192.0.2.20", "address: 10.0.0.300");
    t = replace(t, "    mx_preference: 10", "    mx_prefernce: 10");
    t = replace(t, "customer: acme", "customer: ACME!");
    auto errs = errors_of(t);
    CHECK(errs.size() >= 3);
    CHECK(has(errs, "ips[2].address"));
    CHECK(has(errs, "hostnames[0].mx_prefernce"));
    CHECK(has(errs, "customer:"));
}

TEST_CASE("whole-spec rules: something must send, mailboxes need an MX", "[spec]") {
    std::string no_out = replace(replace(good, "    pool: default\n", ""), "    pool: Bulk\n", "");
    no_out = replace(no_out, "smarthost: \"[2001:db8::25]:2525\"\n", "");
    CHECK(has(errors_of(no_out), "ips: no address has a pool and there is no smarthost"));
    std::string no_mx = replace(good, "    mx_preference: 10\n", "");
    CHECK(has(errors_of(no_mx), "hostnames: no host name has an mx_preference"));
}

TEST_CASE("not YAML, or not a mapping", "[spec]") {
    CHECK(has(errors_of("customer: [unclosed\n"), "not valid YAML"));
    CHECK(has(errors_of("- a\n- b\n"), "spec: must be a mapping"));
    CHECK(has(errors_of(""), "spec: the spec is empty"));
}
