// tests/unit/webui/test_listen.cpp — --listen / --redirect-listen addresses → CivetWeb's
// listening_ports: several of each, IPv6 in brackets, bad input refused with the flag's name.
#include "webui/server.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace cartero::webui;

namespace {

std::string error_of(const server_settings& s) {
    try {
        listening_ports(s);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("listening_ports: one HTTPS address, as before") {
    server_settings s;
    s.listen = {"127.0.0.1:10443"};
    CHECK(listening_ports(s) == "127.0.0.1:10443s");
    s.redirect_listen = {"127.0.0.1:10080"};
    CHECK(listening_ports(s) == "127.0.0.1:10443s,127.0.0.1:10080");
}

TEST_CASE("listening_ports: IPv4 and IPv6 side by side (the appliance's unit)") {
    server_settings s;
    s.listen = {"0.0.0.0:443", "[::]:443"};
    s.redirect_listen = {"0.0.0.0:80", "[::]:80"};
    CHECK(listening_ports(s) == "0.0.0.0:443s,[::]:443s,0.0.0.0:80,[::]:80");
    s.listen = {"[::1]:8443", "[2001:db8::1]:8443", "::1:8444"};
    s.redirect_listen = {};
    CHECK(listening_ports(s) == "[::1]:8443s,[2001:db8::1]:8443s,[::1]:8444s");
    s.listen = {"localhost:8443"};
    CHECK(listening_ports(s) == "localhost:8443s");
}

TEST_CASE("listening_ports: bad addresses are refused, naming the flag") {
    server_settings s;
    CHECK(error_of(s).find("--listen") != std::string::npos); // none given
    for (const char* bad : {"127.0.0.1", ":443", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                            "127.0.0.1:44x", "127.0.0.1:-1", "[::1:443", "::1]:443", "[]:443",
                            "[::1]x:443", "[[::1]]:443", "1.2.3.4,0.0.0.0:443",
                            "127.0.0.1:443s", "127.0.0.1:99999999999", "a b:443"}) {
        INFO(bad);
        s.listen = {bad};
        s.redirect_listen = {};
        CHECK(error_of(s).find("--listen: \"" + std::string(bad) + "\"") == 0);
        s.listen = {"127.0.0.1:10443"};
        s.redirect_listen = {"127.0.0.1:10080", bad};
        CHECK(error_of(s).find("--redirect-listen: \"" + std::string(bad) + "\"") == 0);
    }
}
