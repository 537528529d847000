// core/dns/forwarder.hpp — "ADDR:PORT": the DNS server that every query is forwarded to.
#pragma once

#include "core/parsed.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace cartero::dns {

struct forwarder {
    std::string address; // canonical IP text without brackets: "127.0.0.1", "::1"
    std::uint16_t port = 53;
    bool ipv6 = false;

    std::string to_string() const;    // "127.0.0.1:5300", "[::1]:53"
    std::string unbound_form() const; // "127.0.0.1@5300", as ub_ctx_set_fwd wants it
    bool operator==(const forwarder&) const = default;
};

// "127.0.0.1:5300" or "[::1]:53": an IP address (no host name: resolving the resolver's own
// name would need a resolver) and a port 1–65535; both parts required. Never throws.
parsed<forwarder> parse_forwarder(std::string_view text);

} // namespace cartero::dns
