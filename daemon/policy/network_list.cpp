// daemon/policy/network_list.cpp — CIDR parsing and matching over the 128-bit address space.
#include "daemon/policy/network_list.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <stdexcept>

namespace cartero::policy {

std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view ip) {
    std::string s(ip);
    std::array<std::uint8_t, 16> out{};
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        out[10] = out[11] = 0xff;
        const auto* b = reinterpret_cast<const std::uint8_t*>(&v4.s_addr);
        for (int i = 0; i < 4; ++i) out[12 + i] = b[i];
        return out;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
        for (int i = 0; i < 16; ++i) out[i] = v6.s6_addr[i];
        return out;
    }
    return std::nullopt;
}

std::optional<network> parse_network(std::string_view cidr) {
    auto slash = cidr.find('/');
    auto ip = parse_ip(cidr.substr(0, slash));
    if (!ip) return std::nullopt;
    const bool v4 = (*ip)[10] == 0xff && (*ip)[11] == 0xff &&
                    cidr.substr(0, slash).find(':') == std::string_view::npos;
    unsigned prefix = v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
        auto p = cidr.substr(slash + 1);
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
        if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v > prefix)
            return std::nullopt;
        prefix = v;
    }
    network n;
    n.addr = *ip;
    n.prefix = v4 ? prefix + 96 : prefix;
    // Clear host bits so that "10.1.2.3/8" means 10.0.0.0/8.
    for (unsigned bit = n.prefix; bit < 128; ++bit)
        n.addr[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
    return n;
}

network_list::network_list(const std::vector<std::string>& cidrs) {
    for (const auto& c : cidrs) {
        auto n = parse_network(c);
        if (!n) throw std::invalid_argument("not a network in CIDR notation: " + c);
        nets_.push_back(*n);
    }
}

bool network_list::contains(std::string_view ip) const {
    auto a = parse_ip(ip);
    if (!a) return false;
    for (const auto& n : nets_) {
        bool match = true;
        for (unsigned bit = 0; bit < n.prefix && match; bit += 8) {
            unsigned bits = n.prefix - bit >= 8 ? 8 : n.prefix - bit;
            std::uint8_t mask = static_cast<std::uint8_t>(0xff00u >> bits);
            match = ((*a)[bit / 8] & mask) == (n.addr[bit / 8] & mask);
        }
        if (match) return true;
    }
    return false;
}

} // namespace cartero::policy
