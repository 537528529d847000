// daemon/policy/network_list.cpp — membership of a peer address in the trusted networks.
#include "daemon/policy/network_list.hpp"

#include <arpa/inet.h>

#include <array>
#include <string>

namespace cartero::policy {

bool network_list::contains(std::string_view ip) const {
    std::string s(ip);
    std::array<std::uint8_t, 16> b{};
    std::span<const std::uint8_t> addr;
    if (inet_pton(AF_INET, s.c_str(), b.data()) == 1)
        addr = std::span<const std::uint8_t>(b.data(), 4);
    else if (inet_pton(AF_INET6, s.c_str(), b.data()) == 1)
        addr = std::span<const std::uint8_t>(b.data(), 16);
    else
        return false;
    for (const auto& n : nets_)
        if (n.contains(addr)) return true;
    return false;
}

} // namespace cartero::policy
