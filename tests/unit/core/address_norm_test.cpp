// tests/unit/core/address_norm_test.cpp — domain and address normalisation, including hostile input.
#include "core/address_norm.hpp"

#include <catch2/catch.hpp>

using cartero::names::normalize_address;
using cartero::names::normalize_domain;

TEST_CASE("domains are lower-cased A-labels", "[names]") {
    CHECK(normalize_domain("Example.ORG").value == "example.org");
    CHECK(normalize_domain("mail.example.org").value == "mail.example.org");
    CHECK(normalize_domain("Bücher.example").value == "xn--bcher-kva.example");
    CHECK(normalize_domain("BÜCHER.example").value == "xn--bcher-kva.example");
    CHECK(normalize_domain("xn--bcher-kva.example").value == "xn--bcher-kva.example");
    CHECK(normalize_domain("XN--BCHER-KVA.example").value == "xn--bcher-kva.example");
    // UTS #46 non-transitional: ß stays ß (it is not mapped to "ss").
    CHECK(normalize_domain("straße.example").value == "xn--strae-oqa.example");
    CHECK(normalize_domain("a-b.c1.example").value == "a-b.c1.example");
    CHECK(normalize_domain("123.example").value == "123.example");
}

TEST_CASE("bad domains are refused with a reason", "[names]") {
    auto refused = [](std::string_view in, std::string_view reason) {
        auto r = normalize_domain(in);
        INFO(std::string(in) << " -> " << r.error);
        CHECK_FALSE(r.ok);
        CHECK(r.value.empty());
        CHECK(r.error.find(reason) != std::string::npos);
    };
    refused("", "empty");
    refused("example.org.", "trailing dot");
    refused("localhost", "at least two labels");
    refused("-bad.example", "hyphen");
    refused("bad-.example", "hyphen");
    refused("a..example", "empty label");
    refused(".example.org", "empty label");
    refused(std::string(64, 'a') + ".example", "longer than 63");
    refused("under_score.example", "only letters, digits, hyphens");
    refused("1.2.3.4", "IP address");
    refused("[192.0.2.1]", "IP address literal");
    refused("2001:db8::1", "IP address literal");
    refused("example.123", "all-numeric");
    refused("exa mple.org", "whitespace");
    refused("user@example.org", "'@'");
    refused("xn--a.example", "internationalised");
    refused("xn--ab-.example", "hyphen");
    refused("xn--ls8h.example", "internationalised"); // an emoji: disallowed by IDNA2008
    // 4 × 63 + 3 dots = 255 octets > 253.
    std::string l63(63, 'a');
    refused(l63 + "." + l63 + "." + l63 + "." + l63, "253");
    std::string ok = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
    CHECK(normalize_domain(ok).ok); // exactly 253
}

TEST_CASE("hostile domain input never throws and is quoted safely", "[names]") {
    std::string nul("exa\0mple.org", 12);
    auto r = normalize_domain(nul);
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("control character") != std::string::npos);
    CHECK(r.error.find('\0') == std::string::npos);

    auto esc = normalize_domain("\x1b[31mred.example");
    CHECK_FALSE(esc.ok);
    CHECK(esc.error.find('\x1b') == std::string::npos);

    CHECK_FALSE(normalize_domain("\xff\xfe.example").ok);      // invalid UTF-8
    CHECK_FALSE(normalize_domain("\xc0\xaf.example").ok);      // overlong
    CHECK_FALSE(normalize_domain("\xed\xa0\x80.example").ok);  // surrogate
    CHECK_FALSE(normalize_domain(std::string(100000, 'a')).ok);
    CHECK(normalize_domain(std::string(100000, 'a')).error.size() < 200);
    CHECK_FALSE(normalize_domain("\xe2\x80\x8b.example").ok); // zero-width space only
}

TEST_CASE("addresses are normalised", "[names]") {
    CHECK(normalize_address("Alice@Example.ORG").value == "alice@example.org");
    CHECK(normalize_address("first.last+tag@example.org").value == "first.last+tag@example.org");
    CHECK(normalize_address("o'brien@example.org").value == "o'brien@example.org");
    CHECK(normalize_address("{weird}=#$&*/?^_`|~-@example.org").value ==
          "{weird}=#$&*/?^_`|~-@example.org");
    CHECK(normalize_address("user@Bücher.example").value == "user@xn--bcher-kva.example");
    // RFC 6531: UTF-8 local parts pass through; only ASCII letters are lower-cased.
    CHECK(normalize_address("Jörg@example.org").value == "jörg@example.org");
    CHECK(normalize_address(std::string(64, 'x') + "@example.org").ok);
}

TEST_CASE("relay tricks and malformed addresses are refused", "[names]") {
    auto refused = [](std::string_view in, std::string_view reason) {
        auto r = normalize_address(in);
        INFO(std::string(in) << " -> " << r.error);
        CHECK_FALSE(r.ok);
        CHECK(r.error.find(reason) != std::string::npos);
    };
    refused("", "empty");
    refused("\"quoted\"@example.org", "quoted");
    refused("\"a@b\"@example.org", "quoted");
    refused("user%other.example@example.org", "percent");
    refused("host!user@example.org", "bang");
    refused("@relay.example:user@example.org", "source route");
    refused("@example.org", "nothing before '@'");
    refused("user", "no '@'");
    refused("user@", "no domain");
    refused("a@b@example.org", "more than one '@'");
    refused("user name@example.org", "whitespace");
    refused("user\t@example.org", "whitespace");
    refused(std::string("us\0er@example.org", 17), "control");
    refused("us\x7f" "er@example.org", "control");
    refused("us\xc2\x85" "er@example.org", "control"); // U+0085 NEL
    refused(".user@example.org", "dot");
    refused("user.@example.org", "dot");
    refused("us..er@example.org", "two dots");
    refused(std::string(65, 'x') + "@example.org", "64");
    refused("user@example.org.", "trailing dot");
    refused("user@[192.0.2.1]", "IP address");
    refused("user@1.2.3.4", "IP address");
    refused("<user@example.org>", "angle brackets");
    refused("us(comment)er@example.org", "quoted local part");
    refused("us\xff" "er@example.org", "UTF-8");
    refused("user@localhost", "two labels");
}

TEST_CASE("address normalisation is fast enough for every RCPT", "[names]") {
    // A generous bound: 20 000 normalisations (ASCII and IDNA) well under a second in Debug.
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; ++i) {
        REQUIRE(normalize_address("Some.User+tag@Mail.Example.ORG").ok);
        REQUIRE(normalize_address("user@bücher.example").ok);
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start).count();
    CHECK(ms < 2000);
}
