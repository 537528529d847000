// tests/unit/core/dns_helpers_test.cpp — dns helpers without a server: reverse names, MX order,
// null MX, query-name checks, RDATA formatting, forwarder parsing.
#include "core/dns/forwarder.hpp"
#include "core/dns/query_name.hpp"
#include "core/dns/rdata.hpp"
#include "core/dns/resolver.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace cartero::dns;

namespace {
answer ok_answer(std::vector<std::string> records) {
    answer a;
    a.st = status::ok;
    a.records = std::move(records);
    return a;
}
std::optional<std::string> fmt(rr_type t, std::vector<unsigned char> bytes) {
    return format_rdata(t, bytes.data(), bytes.size());
}
} // namespace

TEST_CASE("reverse_name for IPv4 and IPv6", "[dns]") {
    CHECK(reverse_name("192.0.2.1") == "1.2.0.192.in-addr.arpa");
    CHECK(reverse_name("10.0.0.255") == "255.0.0.10.in-addr.arpa");
    // RFC 3596 §2.5 example form: 32 nibbles, least significant first.
    CHECK(reverse_name("2001:db8::1") ==
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK(reverse_name("2001:DB8:0:0:0:0:0:ABCD") ==
          "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    CHECK(reverse_name("::1") ==
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
    for (const char* bad : {"", "192.0.2", "192.0.2.256", "example.com", "[::1]", "1.2.3.4 ",
                            "::g", "192.0.2.1/24"})
        CHECK(reverse_name(bad).empty());
    CHECK(reverse_name(std::string(1000, '1')).empty());
}

TEST_CASE("parse_mx sorts by preference and keeps every host", "[dns]") {
    auto a = ok_answer({"30 c.example.", "10 a.example.", "20 b1.example.", "20 b2.example.",
                        "junk", "99999 big.example.", "x1 bad.example.", "5 "});
    auto mx = parse_mx(a);
    REQUIRE(mx.size() == 4);
    CHECK(mx[0].preference == 10);
    CHECK(mx[0].host == "a.example");
    CHECK(mx[1].preference == 20);
    CHECK(mx[2].preference == 20);
    CHECK(std::set<std::string>{mx[1].host, mx[2].host} ==
          std::set<std::string>{"b1.example", "b2.example"});
    CHECK(mx[3].host == "c.example");

    std::set<std::string> first;
    auto many = ok_answer({"0 a.", "0 b.", "0 c.", "0 d."});
    for (int i = 0; i < 80; ++i) first.insert(parse_mx(many)[0].host);
    CHECK(first.size() == 4); // RFC 5321 §5.1: random among equals

    answer failed;
    failed.st = status::nxdomain;
    failed.records = {"10 a."};
    CHECK(parse_mx(failed).empty());
}

TEST_CASE("is_null_mx: exactly one '0 .' record", "[dns]") {
    CHECK(is_null_mx(parse_mx(ok_answer({"0 ."}))));
    CHECK_FALSE(is_null_mx(parse_mx(ok_answer({"10 ."}))));
    CHECK_FALSE(is_null_mx(parse_mx(ok_answer({"0 .", "10 mx.example."}))));
    CHECK_FALSE(is_null_mx(parse_mx(ok_answer({"0 mx.example."}))));
    CHECK_FALSE(is_null_mx({}));
}

TEST_CASE("query_name accepts host and service names, refuses hostile ones", "[dns]") {
    CHECK(query_name("Example.COM").value == "example.com");
    CHECK(query_name("example.com.").value == "example.com");
    CHECK(query_name("_dmarc.example.com").value == "_dmarc.example.com");
    CHECK(query_name("sel._domainkey.Example.com").value == "sel._domainkey.example.com");
    CHECK(query_name("localhost").value == "localhost");
    CHECK(query_name(".").value == ".");
    CHECK(query_name("1.2.0.192.in-addr.arpa").value == "1.2.0.192.in-addr.arpa");
    CHECK(query_name("Bücher.Example").value == "xn--bcher-kva.example");
    CHECK(query_name("_dmarc.bücher.example.").value == "_dmarc.xn--bcher-kva.example");
    CHECK(query_name(std::string(63, 'a') + ".example").ok);
    std::string n253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                       std::string(63, 'c') + "." + std::string(61, 'd');
    REQUIRE(n253.size() == 253);
    CHECK(query_name(n253).ok);
    CHECK(query_name(n253 + ".").ok);

    for (std::string bad : {std::string(), std::string(64, 'a') + ".example", n253 + "e",
                            std::string("a\0b.example", 11), std::string("a..b"),
                            std::string("..") , std::string("a b.example"),
                            std::string("a\tb.example"), std::string("a/b.example"),
                            std::string("\xc3.example"), std::string("bücher..example"),
                            std::string("_\xc3\xa9.bücher.example")}) {
        INFO(bad.size() << " octets");
        auto q = query_name(bad);
        CHECK_FALSE(q.ok);
        CHECK_FALSE(q.error.empty());
        for (char c : q.error) CHECK(static_cast<unsigned char>(c) >= 0x20);
    }
}

TEST_CASE("format_rdata writes the presentation forms", "[dns]") {
    CHECK(fmt(rr_type::a, {192, 0, 2, 1}) == "192.0.2.1");
    CHECK_FALSE(fmt(rr_type::a, {192, 0, 2}));
    CHECK(fmt(rr_type::aaaa, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}) ==
          "2001:db8::1");
    CHECK(fmt(rr_type::mx, {0, 10, 2, 'm', 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0}) ==
          "10 mx.example.");
    CHECK(fmt(rr_type::mx, {0, 0, 0}) == "0 .");
    CHECK_FALSE(fmt(rr_type::mx, {0, 10, 2, 'm', 'x'}));          // name runs off the end
    CHECK_FALSE(fmt(rr_type::mx, {0, 10, 0xc0, 0x0c}));           // compression pointer
    CHECK_FALSE(fmt(rr_type::ptr, {1, 'a', 0, 9}));               // trailing bytes
    CHECK(fmt(rr_type::ptr, {3, 'a', '.', 'b', 1, '\\', 1, ' ', 0}) == "a\\.b.\\\\.\\032.");
    CHECK(fmt(rr_type::txt, {3, 'a', 'b', 'c', 0, 2, 'd', 'e'}) == "abcde");
    CHECK_FALSE(fmt(rr_type::txt, {4, 'a'}));
    CHECK(fmt(rr_type::srv, {0, 1, 0, 2, 0x02, 0x4b, 1, 'h', 0}) == "1 2 587 h.");
    CHECK(fmt(rr_type::tlsa, {3, 1, 1, 0xab, 0x01}) == "3 1 1 ab01");
    CHECK_FALSE(fmt(rr_type::tlsa, {3, 1, 1}));
}

TEST_CASE("parse_forwarder: ADDR:PORT", "[dns]") {
    auto v4 = parse_forwarder("127.0.0.1:5300");
    REQUIRE(v4.ok);
    CHECK(v4.value.unbound_form() == "127.0.0.1@5300");
    CHECK(v4.value.to_string() == "127.0.0.1:5300");
    auto v6 = parse_forwarder("[::1]:53");
    REQUIRE(v6.ok);
    CHECK(v6.value.unbound_form() == "::1@53");
    CHECK(v6.value.to_string() == "[::1]:53");
    CHECK(parse_forwarder("[2001:DB8::1]:53").value.address == "2001:db8::1");
    for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                            "::1:53", "[::1]", "[::1]53", "ns.example:53", "1.2.3:53",
                            "127.0.0.1:5x", "[127.0.0.1]:53"}) {
        INFO(bad);
        auto f = parse_forwarder(bad);
        CHECK_FALSE(f.ok);
        CHECK(f.error.find("ADDR:PORT") != std::string::npos);
    }
}
