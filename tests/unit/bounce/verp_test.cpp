// tests/unit/bounce/verp_test.cpp — VERP tokens: round trip, case folding, forgeries refused.
#include "daemon/bounce/verp.hpp"

#include <catch2/catch.hpp>

using namespace cartero::bounce;

namespace {
const std::string key = "0123456789abcdef-test-key";
}

TEST_CASE("verp: round trip", "[bounce][verp]") {
    verp_ref ref{"01JD2K3M4N5P6Q7R", 42};
    std::string addr = verp_address(ref, key, "news.example.org");
    CHECK(addr.rfind("bounces+01jd2k3m4n5p6q7r-42-", 0) == 0);
    CHECK(addr.size() == std::string("bounces+01jd2k3m4n5p6q7r-42-").size() + 10 +
                             std::string("@news.example.org").size());
    auto back = verp_parse_address(addr, key);
    REQUIRE(back);
    CHECK(*back == ref);
    // Remote MTAs may change case: still ours.
    std::string up = addr;
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(verp_parse_address(up, key) == ref);
    CHECK(verp_find_token("Return-Path: <" + addr + ">") == addr.substr(8, addr.find('@') - 8));
}

TEST_CASE("verp: forged or damaged tokens refused", "[bounce][verp]") {
    verp_ref ref{"01JD2K3M4N5P6Q7R", 42};
    std::string tok = verp_token(ref, key);
    CHECK(verp_parse_token(tok, key));
    CHECK(!verp_parse_token(tok, "another key"));          // wrong key
    std::string other = "01jd2k3m4n5p6q7r-43" + tok.substr(tok.rfind('-')); // id changed
    CHECK(!verp_parse_token(other, key));
    std::string flipped = tok;
    flipped.back() = flipped.back() == 'a' ? 'b' : 'a';    // MAC changed
    CHECK(!verp_parse_token(flipped, key));
    CHECK(!verp_parse_token(tok.substr(0, tok.size() - 1), key)); // truncated
    CHECK(!verp_parse_token("01jd2k3m4n5p6q7r-042" + tok.substr(tok.rfind('-')), key));
    CHECK(!verp_parse_token("", key));
    CHECK(!verp_parse_token(tok, ""));
    CHECK(!verp_parse_address("other+" + tok + "@news.example.org", key)); // wrong prefix
    CHECK(!verp_parse_address("bounces" + tok + "@news.example.org", key));
    CHECK_THROWS(verp_token(ref, ""));
    CHECK_THROWS(verp_token({"bad id!", 1}, key));
}
