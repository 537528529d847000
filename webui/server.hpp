// webui/server.hpp — CivetWeb glue: HTTPS listener(s) and an optional plain-HTTP listener that
// only redirects, TLS ≥ 1.2 with the state dir's certificate, every request handed to
// panel_app (and every CivetWeb-generated error answered with the security headers too).
#pragma once

#include "webui/panel_app.hpp"

#include <string>
#include <vector>

namespace cartero::webui {

// Addresses are "ADDR:PORT", an IPv6 one as "[ADDR]:PORT" ("[::]:443" is IPv6 only: pair it
// with "0.0.0.0:443" to serve both families, as the appliance's unit does).
struct server_settings {
    std::vector<std::string> listen;          // HTTPS, at least one; the first names the redirect's port
    std::vector<std::string> redirect_listen; // plain HTTP → 301 to HTTPS; empty = none
    std::string tls_certificate; // PEM chain
    std::string tls_key;         // PEM private key
    int threads = 8;
};

// Runs until `stop` becomes true (polled every 200 ms). Throws std::runtime_error with the
// reason when the server cannot start (port in use, TLS files unreadable, no TLS support).
void run_server(const panel_app& app, const server_settings& s, const volatile bool& stop);

// CivetWeb's listening_ports value for `s` ("127.0.0.1:443s,[::1]:443s,127.0.0.1:80"). Throws
// std::runtime_error naming the flag when an address is not ADDR:PORT / [ADDR]:PORT or no HTTPS
// address is given. Exposed for tests.
std::string listening_ports(const server_settings& s);

// "https://HOST:PORT/path?query" for a redirect: HOST from the request's Host header when it is
// a plain host name or address (else `fallback_host`), PORT the HTTPS port. Exposed for tests.
std::string redirect_target(std::string_view host_header, std::string_view fallback_host,
                            int https_port, std::string_view path, std::string_view query);

} // namespace cartero::webui
