// tests/unit/webui/test_totp_throttle.cpp — TOTP against RFC 6238 Appendix B, base32 against
// RFC 4648 §10, and the login throttle policy.
#include "webui/login_throttle.hpp"
#include "webui/totp.hpp"

#include <catch2/catch.hpp>

using namespace cartero::webui;

TEST_CASE("base32 round trips and matches RFC 4648 test vectors") {
    CHECK(base32_encode("") == "");
    CHECK(base32_encode("f") == "MY");
    CHECK(base32_encode("fo") == "MZXQ");
    CHECK(base32_encode("foobar") == "MZXW6YTBOI");
    CHECK(base32_decode("MZXW6YTBOI").value() == "foobar");
    CHECK_FALSE(base32_decode("mzxw6ytboi")); // lower case refused
    CHECK_FALSE(base32_decode("MZXW6YTB0I")); // '0' is not base32
    CHECK_FALSE(base32_decode("MZ=="));
}

TEST_CASE("HOTP matches RFC 4226 Appendix D") {
    const std::string key = "12345678901234567890";
    const char* want[] = {"755224", "287082", "359152", "969429", "338314",
                          "254676", "287922", "162583", "399871", "520489"};
    for (int i = 0; i < 10; ++i) CHECK(hotp(key, static_cast<std::uint64_t>(i)) == want[i]);
}

TEST_CASE("TOTP matches RFC 6238 Appendix B (SHA-1, 8 digits)") {
    const std::string key = "12345678901234567890";
    CHECK(totp_at(key, 59, 8) == "94287082");
    CHECK(totp_at(key, 1111111109, 8) == "07081804");
    CHECK(totp_at(key, 1111111111, 8) == "14050471");
    CHECK(totp_at(key, 1234567890, 8) == "89005924");
    CHECK(totp_at(key, 2000000000, 8) == "69279037");
    CHECK(totp_at(key, 20000000000, 8) == "65353130");
}

TEST_CASE("totp_verify accepts one step of drift and nothing more") {
    const std::string key = "12345678901234567890";
    const auto secret = base32_encode(key);
    const std::int64_t t = 1234567890;
    const auto code = totp_at(key, t);
    CHECK(totp_verify(secret, code, t));
    CHECK(totp_verify(secret, code, t + 30));
    CHECK(totp_verify(secret, code, t - 30));
    CHECK_FALSE(totp_verify(secret, code, t + 90));
    CHECK_FALSE(totp_verify(secret, code, t - 90));
    CHECK_FALSE(totp_verify(secret, "12345", t));    // too short
    CHECK_FALSE(totp_verify(secret, "12345a", t));   // not digits
    CHECK_FALSE(totp_verify("not base32!", code, t)); // bad secret
    CHECK_FALSE(totp_verify("", code, t));
    auto fresh = new_totp_secret();
    CHECK(fresh.size() == 32);
    CHECK(base32_decode(fresh)->size() == 20);
    CHECK(fresh != new_totp_secret());
}

TEST_CASE("login throttle locks after max failures within the window") {
    throttle_policy p{3, 600, 900};
    cartero::admin::throttle_row r;
    const std::int64_t t = 100000;
    r = after_failure(r, t, p);
    CHECK(r.failures == 1);
    CHECK(locked_for(r, t) == 0);
    r = after_failure(r, t + 10, p);
    CHECK(locked_for(r, t + 10) == 0);
    r = after_failure(r, t + 20, p);
    CHECK(locked_for(r, t + 20) == 900);
    CHECK(locked_for(r, t + 20 + 899) == 1);
    CHECK(locked_for(r, t + 20 + 900) == 0);
}

TEST_CASE("login throttle forgets failures older than the window") {
    throttle_policy p{3, 600, 900};
    cartero::admin::throttle_row r;
    const std::int64_t t = 100000;
    r = after_failure(r, t, p);
    r = after_failure(r, t + 1, p);
    r = after_failure(r, t + 700, p); // a new window: 1 failure, not 3
    CHECK(r.failures == 1);
    CHECK(locked_for(r, t + 700) == 0);
}
