// tests/unit/core/octets_test.cpp — first_non_ascii against the plain octet loop, for every
// position of the first high octet in buffers around the 64- and 32-octet steps.
#include "core/octets.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace {

std::size_t reference(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) >= 0x80) return i;
    return std::string_view::npos;
}

} // namespace

TEST_CASE("octets: first_non_ascii finds the first octet >= 0x80 wherever it is", "[octets]") {
    for (std::size_t n = 0; n <= 200; ++n) {
        std::string s(n, 'a');
        // 0x7f is the largest ASCII octet and must never count.
        for (std::size_t i = 0; i < n; i += 3) s[i] = '\x7f';
        CHECK(cartero::first_non_ascii(s) == std::string_view::npos);
        CHECK_FALSE(cartero::has_non_ascii(s));
        for (std::size_t pos = 0; pos < n; ++pos) {
            for (char high : {'\x80', '\xc3', '\xff'}) {
                std::string t = s;
                t[pos] = high;
                if (pos + 5 < n) t[pos + 5] = '\xe2'; // a later one must not win
                REQUIRE(cartero::first_non_ascii(t) == pos);
                REQUIRE(cartero::first_non_ascii(t) == reference(t));
            }
        }
    }
    // Unaligned views into a larger buffer.
    std::string big(4096, 'x');
    big[3001] = '\xa9';
    for (std::size_t off = 0; off < 40; ++off)
        CHECK(cartero::first_non_ascii(std::string_view(big).substr(off)) == 3001 - off);
    CHECK(cartero::first_non_ascii(std::string_view(big).substr(0, 3001)) == std::string_view::npos);
}

TEST_CASE("octets: first_cr_or_lf finds the first CR or LF wherever it is", "[octets]") {
    const auto reference_crlf = [](std::string_view s) {
        for (std::size_t i = 0; i < s.size(); ++i)
            if (s[i] == '\r' || s[i] == '\n') return i;
        return s.size();
    };
    for (std::size_t n = 0; n <= 70; ++n) {
        std::string s(n, 'a');
        // Octets next to CR (0x0d) and LF (0x0a) must never count.
        for (std::size_t i = 0; i < n; i += 2) s[i] = i % 4 ? '\x0c' : '\x0e';
        CHECK(cartero::first_cr_or_lf(s) == n);
        for (std::size_t pos = 0; pos < n; ++pos) {
            for (char c : {'\r', '\n'}) {
                std::string t = s;
                t[pos] = c;
                if (pos + 3 < n) t[pos + 3] = '\r'; // a later one must not win
                REQUIRE(cartero::first_cr_or_lf(t) == pos);
                REQUIRE(cartero::first_cr_or_lf(t) == reference_crlf(t));
            }
        }
    }
}
