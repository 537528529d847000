// core/dns/rdata.cpp — RDATA formatting for A, AAAA, NS, CNAME, PTR, MX, TXT, SRV, TLSA.
#include "core/dns/rdata.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace cartero::dns {
namespace {

struct reader {
    const unsigned char* p;
    std::size_t n;
    std::size_t at = 0;

    bool left(std::size_t k) const { return n - at >= k; }
    bool done() const { return at == n; }
    std::optional<std::uint16_t> u16() {
        if (!left(2)) return std::nullopt;
        auto v = static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
        at += 2;
        return v;
    }
    std::optional<std::uint8_t> u8() {
        if (!left(1)) return std::nullopt;
        return p[at++];
    }
    // RFC 1035 §3.1 name: length-prefixed labels ending in the root label. Compression pointers
    // (top bits 11, §4.1.4) are not expected inside RDATA handed over by libunbound: refused.
    std::optional<std::string> name() {
        std::string out;
        std::size_t total = 0;
        for (;;) {
            auto len = u8();
            if (!len) return std::nullopt;
            if (*len == 0) break;
            if (*len > 63 || !left(*len)) return std::nullopt;
            total += *len + 1u;
            if (total > 255) return std::nullopt;
            for (std::size_t i = 0; i < *len; ++i) {
                unsigned char c = p[at + i];
                if (c == '.' || c == '\\') {
                    out += '\\';
                    out += static_cast<char>(c);
                } else if (c <= 0x20 || c >= 0x7f) {
                    char buf[5];
                    std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
            }
            at += *len;
            out += '.';
        }
        return out.empty() ? std::string(".") : out;
    }
};

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

std::optional<std::string> address(int family, const unsigned char* p, std::size_t n) {
    if (n != (family == AF_INET ? 4u : 16u)) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    if (!inet_ntop(family, p, buf, sizeof buf)) return std::nullopt;
    return std::string(buf);
}

} // namespace

std::optional<std::string> format_rdata(rr_type type, const unsigned char* data, std::size_t len) {
    if (!data && len) return std::nullopt;
    reader r{data, len};
    switch (type) {
    case rr_type::a: return address(AF_INET, data, len);
    case rr_type::aaaa: return address(AF_INET6, data, len);
    case rr_type::ns:
    case rr_type::cname:
    case rr_type::ptr: {
        auto n = r.name();
        if (!n || !r.done()) return std::nullopt;
        return n;
    }
    case rr_type::mx: { // RFC 1035 §3.3.9: PREFERENCE, EXCHANGE
        auto pref = r.u16();
        auto n = pref ? r.name() : std::nullopt;
        if (!n || !r.done()) return std::nullopt;
        return std::to_string(*pref) + " " + *n;
    }
    case rr_type::txt: { // RFC 1035 §3.3.14: one or more <character-string>s
        if (len == 0) return std::nullopt;
        std::string out;
        while (!r.done()) {
            auto l = r.u8();
            if (!l || !r.left(*l)) return std::nullopt;
            out.append(reinterpret_cast<const char*>(data + r.at), *l);
            r.at += *l;
        }
        return out;
    }
    case rr_type::srv: { // RFC 2782: priority, weight, port, target
        auto prio = r.u16(), weight = r.u16(), port = r.u16();
        auto n = port ? r.name() : std::nullopt;
        if (!prio || !weight || !n || !r.done()) return std::nullopt;
        return std::to_string(*prio) + " " + std::to_string(*weight) + " " +
               std::to_string(*port) + " " + *n;
    }
    case rr_type::tlsa: { // RFC 6698 §2.1: usage, selector, matching type, association data
        if (len < 4) return std::nullopt;
        return std::to_string(data[0]) + " " + std::to_string(data[1]) + " " +
               std::to_string(data[2]) + " " + hex(data + 3, len - 3);
    }
    }
    // RFC 3597 §5: the generic form for anything else.
    return "\\# " + std::to_string(len) + (len ? " " + hex(data, len) : std::string());
}

} // namespace cartero::dns
