// tests/unit/core/dns_settings_test.cpp — the carterod.conf key `resolver` (ADDR:PORT or empty).
#include "core/daemon_settings.hpp"

#include <catch2/catch.hpp>

using namespace cartero::config;

TEST_CASE("resolver: default empty, ADDR:PORT canonicalised, bad values refused",
          "[settings][dns]") {
    daemon_settings s;
    CHECK(s.resolver.empty());

    daemon_settings v4;
    REQUIRE(parse_settings_text("resolver = 127.0.0.1:5300\n", "c.conf", v4).empty());
    CHECK(v4.resolver == "127.0.0.1:5300");
    daemon_settings v6;
    REQUIRE(parse_settings_text("resolver = [2001:DB8:0::1]:53\n", "c.conf", v6).empty());
    CHECK(v6.resolver == "[2001:db8::1]:53");
    daemon_settings none;
    REQUIRE(parse_settings_text("resolver =\n", "c.conf", none).empty());
    CHECK(none.resolver.empty());

    for (const char* bad : {"127.0.0.1", "dns.example:53", "::1:53", "127.0.0.1:0", "[::1]"}) {
        INFO(bad);
        daemon_settings b;
        auto errors = parse_settings_text(std::string("\nresolver = ") + bad + "\n", "c.conf", b);
        REQUIRE(errors.size() == 1);
        CHECK(errors[0].rfind("c.conf:2: resolver '", 0) == 0);
        CHECK(errors[0].find("ADDR:PORT") != std::string::npos);
        CHECK(b.resolver.empty()); // nothing half-set
    }

    daemon_settings flag;
    CHECK(set_setting(flag, "resolver", "[::1]:53").empty());
    CHECK(flag.resolver == "[::1]:53");
    CHECK_FALSE(set_setting(flag, "resolver", "nonsense").empty());
    CHECK(flag.resolver == "[::1]:53");
}

TEST_CASE("resolver: rendered and parsed back", "[settings][dns]") {
    daemon_settings s;
    REQUIRE(set_setting(s, "resolver", "[::1]:5353").empty());
    std::string text = render_settings(s);
    CHECK(text.find("\nresolver = [::1]:5353\n") != std::string::npos);
    daemon_settings back;
    REQUIRE(parse_settings_text(text, "r.conf", back).empty());
    CHECK(back == s);
    CHECK(render_default_settings("mail.example").find("\nresolver =\n") != std::string::npos);
}
