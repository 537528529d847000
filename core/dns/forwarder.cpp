// core/dns/forwarder.cpp — parsing and printing a forwarder's ADDR:PORT.
#include "core/dns/forwarder.hpp"

#include <arpa/inet.h>

namespace cartero::dns {

std::string forwarder::to_string() const {
    return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::string forwarder::unbound_form() const { return address + "@" + std::to_string(port); }

parsed<forwarder> parse_forwarder(std::string_view text) {
    using r = parsed<forwarder>;
    auto bad = [&](std::string why) {
        return r::failure("resolver " + quoted(text) + " " + why +
                          " (write ADDR:PORT, e.g. 127.0.0.1:53 or [::1]:53)");
    };
    forwarder f;
    std::string_view addr, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return bad("has '[' without ']'");
        if (close + 1 >= text.size() || text[close + 1] != ':') return bad("has no :PORT");
        addr = text.substr(1, close - 1);
        port = text.substr(close + 2);
        f.ipv6 = true;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return bad("has no :PORT");
        addr = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (addr.find(':') != std::string_view::npos)
            return bad("has an IPv6 address without brackets");
    }
    if (addr.empty() || addr.size() >= INET6_ADDRSTRLEN) return bad("has no valid IP address");
    std::string z(addr);
    unsigned char buf[16] = {};
    if (inet_pton(f.ipv6 ? AF_INET6 : AF_INET, z.c_str(), buf) != 1)
        return bad(f.ipv6 ? "has an invalid IPv6 address" : "has an invalid IPv4 address");
    char out[INET6_ADDRSTRLEN] = {};
    inet_ntop(f.ipv6 ? AF_INET6 : AF_INET, buf, out, sizeof out);
    f.address = out;
    if (port.empty() || port.size() > 5) return bad("has no valid port");
    unsigned long n = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return bad("has a port that is not a number");
        n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    if (n == 0 || n > 65535) return bad("has a port outside 1–65535");
    f.port = static_cast<std::uint16_t>(n);
    return r::success(f);
}

} // namespace cartero::dns
