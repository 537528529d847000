// tests/unit/core/size_parse_test.cpp — sizes with binary units, durations, and their formatting.
#include "core/size_parse.hpp"

#include <catch2/catch.hpp>

using namespace cartero::units;
using namespace std::chrono_literals;

TEST_CASE("sizes use binary units as in Dovecot", "[units]") {
    CHECK(parse_size("500M").value == 500ull * 1024 * 1024);
    CHECK(parse_size("2G").value == 2ull * 1024 * 1024 * 1024);
    CHECK(parse_size("10K").value == 10240);
    CHECK(parse_size("10k").value == 10240);
    CHECK(parse_size("1T").value == 1ull << 40);
    CHECK(parse_size("1234").value == 1234);
    CHECK(parse_size("1234B").value == 1234);
    CHECK(parse_size("5MB").value == 5ull << 20);
    auto zero = parse_size("0");
    CHECK(zero.ok);
    CHECK(zero.value == 0);
}

TEST_CASE("bad sizes are refused", "[units]") {
    auto refused = [](std::string_view in, std::string_view reason) {
        auto r = parse_size(in);
        INFO(std::string(in) << " -> " << r.error);
        CHECK_FALSE(r.ok);
        CHECK(r.error.find(reason) != std::string::npos);
    };
    refused("", "empty");
    refused("-5M", "negative");
    refused("M", "number");
    refused("1.5G", "unit");
    refused("5 M", "unit");
    refused("5X", "unit");
    refused("5MiB", "unit");
    refused("5MM", "unit");
    refused("99999999999999999999", "too large");
    refused("9223372036854775807K", "too large");
    refused("8388608T", "too large"); // 2^63
    CHECK(parse_size("8388607T").ok);
}

TEST_CASE("format_size is exact and parses back", "[units]") {
    CHECK(format_size(0) == "0");
    CHECK(format_size(500ull << 20) == "500M");
    CHECK(format_size(2ull << 30) == "2G");
    CHECK(format_size(1536) == "1536");
    CHECK(format_size(1537) == "1537");
    CHECK(format_size(3ull << 40) == "3T");
    for (std::uint64_t v : {1ull, 1023ull, 1024ull, 1536ull * 1024, 123456789ull, 50ull << 20})
        CHECK(parse_size(format_size(v)).value == v);
}

TEST_CASE("durations", "[units]") {
    CHECK(parse_duration("30s").value == 30s);
    CHECK(parse_duration("5m").value == 300s);
    CHECK(parse_duration("1h").value == 3600s);
    CHECK(parse_duration("2d").value == 172800s);
    CHECK(parse_duration("90").value == 90s);
    CHECK(parse_duration("0").value == 0s);
    CHECK_FALSE(parse_duration("").ok);
    CHECK_FALSE(parse_duration("-1s").ok);
    CHECK_FALSE(parse_duration("5 m").ok);
    CHECK_FALSE(parse_duration("5w").ok);
    CHECK_FALSE(parse_duration("5ms").ok);
    CHECK_FALSE(parse_duration("99999999999999999d").ok);
    CHECK(format_duration(300s) == "5m");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(86400s) == "1d");
    CHECK(format_duration(7200s) == "2h");
    CHECK(format_duration(0s) == "0s");
}
