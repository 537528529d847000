// daemon/policy/network_list.hpp — a set of CIDR networks (trusted_network) and membership tests.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::policy {

// One network in 16-byte form (IPv4 as ::ffff:a.b.c.d so one matcher serves both families).
struct network {
    std::array<std::uint8_t, 16> addr{};
    unsigned prefix = 0; // in the 128-bit space
};

// Parses "192.0.2.0/24", "2001:db8::/32", or a single address (full-length prefix).
std::optional<network> parse_network(std::string_view cidr);
// Parses an address (no brackets) into the 16-byte form.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view ip);

class network_list {
public:
    network_list() = default;
    // Throws std::invalid_argument naming the bad entry.
    explicit network_list(const std::vector<std::string>& cidrs);
    bool contains(std::string_view ip) const;
    bool empty() const { return nets_.empty(); }

private:
    std::vector<network> nets_;
};

} // namespace cartero::policy
