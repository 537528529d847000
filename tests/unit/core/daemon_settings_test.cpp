// tests/unit/core/daemon_settings_test.cpp — carterod.conf: defaults, parsing, errors, round trip.
#include "core/daemon_settings.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace cartero::config;
using namespace std::chrono_literals;

namespace {
bool has(const std::vector<std::string>& errors, std::string_view part) {
    for (const auto& e : errors)
        if (e.find(part) != std::string::npos) return true;
    return false;
}
} // namespace

TEST_CASE("defaults come from the table", "[settings]") {
    daemon_settings s;
    CHECK(s.hostname.empty());
    REQUIRE(s.listen.size() == 4);
    CHECK(s.listen[0].to_string() == "smtp=0.0.0.0:25");
    CHECK(s.listen[1].to_string() == "submission=0.0.0.0:587");
    CHECK(s.listen[2].to_string() == "submission=0.0.0.0:2525");
    CHECK(s.listen[3].to_string() == "smtps=0.0.0.0:465");
    CHECK(s.trusted_network.empty());
    CHECK_FALSE(s.relayhost.has_value());
    CHECK(s.tls_certificate == "tls/cert.pem");
    CHECK(s.tls_key == "tls/key.pem");
    CHECK(s.mail_root == "mail");
    CHECK(s.max_message_size == 50ull << 20);
    CHECK(s.max_recipients == 100);
    CHECK(s.max_command_line == 512);
    CHECK(s.max_text_line == 1000);
    CHECK(s.max_bad_commands == 20);
    CHECK(s.max_connections == 2000);
    CHECK(s.max_connections_per_ip == 100);
    CHECK(s.auth_failures_slowdown == 3);
    CHECK(s.auth_failures_limit == 10);
    CHECK(s.auth_failure_window == 15min);
    CHECK(s.timeout_command == 5min);
    CHECK(s.timeout_data == 3min);
    CHECK(s.timeout_tls_handshake == 30s);
    CHECK(s.postmaster.empty());
    CHECK(s.log_level == cartero::log::level::info);
    CHECK(s.delay_warning_time == 4h);
    CHECK(settings_table().size() == 25);
}

TEST_CASE("the rendered defaults file parses back to the defaults", "[settings]") {
    std::string text = render_default_settings("Mail.Example.ORG");
    daemon_settings parsed;
    parsed.hostname = "something.else"; // must be overwritten by the file
    auto errors = parse_settings_text(text, "carterod.conf", parsed);
    INFO(text);
    REQUIRE(errors.empty());
    daemon_settings expected;
    expected.hostname = "mail.example.org";
    CHECK(parsed == expected);
    CHECK(render_settings(parsed) == text);
    // Every key of the table appears in the file.
    for (const auto& row : settings_table())
        CHECK(text.find("\n" + std::string(row.name) + " =") != std::string::npos);
}

TEST_CASE("a non-default settings file round-trips too", "[settings]") {
    std::string text = "# test\n"
                       "hostname = mx.example.org\n"
                       "listen = smtp=127.0.0.1:2525\n"
                       "listen = submission=[::1]:5870\n"
                       "trusted_network = 192.0.2.0/24\n"
                       "trusted_network = 2001:db8::/32\n"
                       "relayhost = smarthost.example.net:587\n"
                       "max_message_size = 10M\n"
                       "max_recipients = 5\n"
                       "auth_failure_window = 1h\n"
                       "timeout_command = 2s\n"
                       "  postmaster   =   Admin@Example.org  \n"
                       "log_level = debug\n";
    daemon_settings s;
    auto errors = parse_settings_text(text, "t.conf", s);
    REQUIRE(errors.empty());
    REQUIRE(s.listen.size() == 2); // the file's list replaces the defaults
    CHECK(s.listen[1].ipv6);
    CHECK(s.listen[1].address == "::1");
    CHECK(s.listen[1].port == 5870);
    CHECK(s.listen[1].kind == listener_kind::submission);
    REQUIRE(s.trusted_network.size() == 2);
    CHECK(s.relayhost == host_port{"smarthost.example.net", 587});
    CHECK(s.max_message_size == 10ull << 20);
    CHECK(s.timeout_command == 2s);
    CHECK(s.postmaster == "admin@example.org");
    CHECK(s.log_level == cartero::log::level::debug);
    daemon_settings again;
    REQUIRE(parse_settings_text(render_settings(s), "r.conf", again).empty());
    CHECK(again == s);
}

TEST_CASE("errors name file:line and the problem", "[settings]") {
    daemon_settings s;
    auto errors = parse_settings_text("max_recipients = 0\n"            // 1: below bounds
                                      "bogus = 1\n"                     // 2: unknown key
                                      "just words\n"                    // 3: no '='
                                      "listen = smtp=1.2.3.4\n"         // 4: no port
                                      "timeout_data = 5x\n"             // 5: bad unit
                                      "max_recipients = 7\n"            // 6: set twice
                                      "trusted_network = 10.0.0.1/8\n"  // 7: host bits
                                      "max_message_size = -1\n"         // 8: negative
                                      "log_level = loud\n"              // 9
                                      "relayhost = a:b:c\n",            // 10
                                      "x.conf", s);
    CHECK(has(errors, "x.conf:1: max_recipients '0' is out of range (1 to 100000)"));
    CHECK(has(errors, "x.conf:2: unknown setting 'bogus'"));
    CHECK(has(errors, "x.conf:3: expected 'key = value'"));
    CHECK(has(errors, "x.conf:4: listen:"));
    CHECK(has(errors, "x.conf:5: timeout_data:"));
    CHECK(has(errors, "x.conf:6: max_recipients is set twice (first on line 1)"));
    CHECK(has(errors, "x.conf:7: trusted_network: network '10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?"));
    CHECK(has(errors, "x.conf:8: max_message_size: size '-1' is negative"));
    CHECK(has(errors, "x.conf:9: log_level 'loud'"));
    CHECK(has(errors, "x.conf:10: relayhost:"));
    CHECK(errors.size() == 10);
}

TEST_CASE("cross-key checks", "[settings]") {
    daemon_settings s;
    auto errors = parse_settings_text("auth_failures_slowdown = 20\nmax_connections_per_ip = 5000\n",
                                      "c.conf", s);
    CHECK(has(errors, "c.conf: auth_failures_slowdown (20) must not exceed auth_failures_limit (10)"));
    CHECK(has(errors, "c.conf: max_connections_per_ip (5000) must not exceed max_connections (2000)"));
}

TEST_CASE("settings files: missing file, empty repeatable", "[settings]") {
    cartero::test::temp_dir t;
    daemon_settings s;
    auto errors = parse_settings_file(t.path("nope.conf"), s);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("nope.conf: cannot read") != std::string::npos);

    std::ofstream(t.path("a.conf")) << "listen =\nlisten = smtps=[::]:465\n";
    REQUIRE(parse_settings_file(t.path("a.conf"), s).empty());
    REQUIRE(s.listen.size() == 1);
    CHECK(s.listen[0].to_string() == "smtps=[::]:465");

    CHECK(set_setting(s, "max_recipients", "50").empty());
    CHECK(s.max_recipients == 50);
    CHECK(set_setting(s, "listen", "smtp=0.0.0.0:25").empty()); // a flag appends
    CHECK(s.listen.size() == 2);
    CHECK_FALSE(set_setting(s, "nope", "1").empty());
}

TEST_CASE("listen specs", "[settings]") {
    CHECK(parse_listen_spec("smtp=0.0.0.0:25").ok);
    CHECK(parse_listen_spec("submission=[::]:587").value.to_string() == "submission=[::]:587");
    CHECK(parse_listen_spec("smtps=[2001:DB8::1]:465").value.address == "2001:db8::1");
    CHECK_FALSE(parse_listen_spec("imap=0.0.0.0:143").ok);
    CHECK_FALSE(parse_listen_spec("smtp=0.0.0.0").ok);
    CHECK_FALSE(parse_listen_spec("smtp=0.0.0.0:0").ok);
    CHECK_FALSE(parse_listen_spec("smtp=0.0.0.0:65536").ok);
    CHECK_FALSE(parse_listen_spec("smtp=::1:25").ok);
    CHECK_FALSE(parse_listen_spec("smtp=localhost:25").ok);
    CHECK_FALSE(parse_listen_spec("smtp=[::1]25").ok);
    CHECK_FALSE(parse_listen_spec("smtp=256.0.0.1:25").ok);
    CHECK_FALSE(parse_listen_spec("0.0.0.0:25").ok);
}

TEST_CASE("CIDR parsing and matching", "[settings]") {
    auto v4 = parse_cidr("192.0.2.0/24");
    REQUIRE(v4.ok);
    std::uint8_t in[4] = {192, 0, 2, 77}, out[4] = {192, 0, 3, 1};
    CHECK(v4.value.contains(in));
    CHECK_FALSE(v4.value.contains(out));
    std::uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 9};
    CHECK(v4.value.contains(mapped));

    auto host = parse_cidr("127.0.0.1");
    REQUIRE(host.ok);
    CHECK(host.value.prefix == 32);
    auto odd = parse_cidr("10.128.0.0/9");
    REQUIRE(odd.ok);
    std::uint8_t a[4] = {10, 200, 1, 1}, b[4] = {10, 100, 1, 1};
    CHECK(odd.value.contains(a));
    CHECK_FALSE(odd.value.contains(b));

    auto v6 = parse_cidr("2001:db8::/32");
    REQUIRE(v6.ok);
    CHECK(v6.value.to_string() == "2001:db8::/32");
    std::uint8_t six[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(v6.value.contains(six));
    CHECK_FALSE(v6.value.contains(in));
    CHECK(parse_cidr("0.0.0.0/0").value.contains(out));

    CHECK_FALSE(parse_cidr("192.0.2.0/33").ok);
    CHECK_FALSE(parse_cidr("2001:db8::/129").ok);
    CHECK_FALSE(parse_cidr("192.0.2.0/").ok);
    CHECK_FALSE(parse_cidr("192.0.2/24").ok);
    CHECK_FALSE(parse_cidr("example.org/24").ok);
    CHECK_FALSE(parse_cidr("192.0.2.1/24").ok);
}
