// core/dns/resolver.cpp — helpers over answers: MX order, null MX, reverse names, enum names.
#include "core/dns/resolver.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <random>

namespace cartero::dns {

std::string_view to_string(status s) {
    switch (s) {
    case status::ok: return "ok";
    case status::nxdomain: return "nxdomain";
    case status::nodata: return "nodata";
    case status::servfail: return "servfail";
    case status::timeout: return "timeout";
    case status::error: return "error";
    }
    return "error";
}

std::string_view to_string(rr_type t) {
    switch (t) {
    case rr_type::a: return "A";
    case rr_type::ns: return "NS";
    case rr_type::cname: return "CNAME";
    case rr_type::ptr: return "PTR";
    case rr_type::mx: return "MX";
    case rr_type::txt: return "TXT";
    case rr_type::aaaa: return "AAAA";
    case rr_type::srv: return "SRV";
    case rr_type::tlsa: return "TLSA";
    }
    return "?";
}

std::vector<mx_host> parse_mx(const answer& a) {
    std::vector<mx_host> out;
    if (!a.ok()) return out;
    for (const auto& rec : a.records) {
        // "PREF HOST." as format_rdata writes it; anything else is skipped, not guessed at.
        auto space = rec.find(' ');
        if (space == std::string::npos || space == 0 || space > 5) continue;
        unsigned long pref = 0;
        bool digits = true;
        for (std::size_t i = 0; i < space; ++i) {
            if (rec[i] < '0' || rec[i] > '9') digits = false;
            else pref = pref * 10 + static_cast<unsigned long>(rec[i] - '0');
        }
        if (!digits || pref > 65535) continue;
        std::string host = rec.substr(space + 1);
        if (host.empty()) continue;
        if (host.back() == '.') host.pop_back(); // "." (null MX) becomes ""
        out.push_back({static_cast<std::uint16_t>(pref), std::move(host)});
    }
    // RFC 5321 §5.1: lowest preference first; hosts of equal preference in random order, so
    // that senders spread their load across them. Shuffle, then a stable sort keeps that order.
    thread_local std::mt19937 rng{std::random_device{}()};
    std::shuffle(out.begin(), out.end(), rng);
    std::stable_sort(out.begin(), out.end(), [](const mx_host& x, const mx_host& y) {
        return x.preference < y.preference;
    });
    return out;
}

bool is_null_mx(const std::vector<mx_host>& mx) {
    // RFC 7505 §3: exactly one MX RR, preference 0, exchange the root name ".".
    return mx.size() == 1 && mx[0].preference == 0 && mx[0].host.empty();
}

std::string reverse_name(std::string_view ip) {
    if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return {};
    std::string z(ip);
    unsigned char b[16] = {};
    if (inet_pton(AF_INET, z.c_str(), b) == 1) {
        // RFC 1035 §3.5: octets in reverse order under in-addr.arpa.
        return std::to_string(b[3]) + "." + std::to_string(b[2]) + "." + std::to_string(b[1]) +
               "." + std::to_string(b[0]) + ".in-addr.arpa";
    }
    if (inet_pton(AF_INET6, z.c_str(), b) == 1) {
        // RFC 3596 §2.5: nibbles in reverse order under ip6.arpa.
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        out.reserve(72);
        for (int i = 15; i >= 0; --i) {
            out += digits[b[i] & 15];
            out += '.';
            out += digits[b[i] >> 4];
            out += '.';
        }
        return out + "ip6.arpa";
    }
    return {};
}

} // namespace cartero::dns
