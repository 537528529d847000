// daemon/smtp/path_parser.cpp — RFC 5321 §4.1.2 Path/Mailbox parsing, path::address().
#include "daemon/smtp/path_parser.hpp"

#include "daemon/smtp/command_parser.hpp"

namespace cartero::smtp {

namespace {

constexpr std::size_t max_path = 256;   // RFC 5321 §4.5.3.1.3, incl. "<" and ">"
constexpr std::size_t max_local = 64;   // RFC 5321 §4.5.3.1.1
constexpr std::size_t max_domain = 255; // RFC 5321 §4.5.3.1.2
constexpr std::size_t max_label = 63;   // RFC 1035 §2.3.4

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool non_ascii(unsigned char c) { return c >= 0x80; }

// RFC 5322 §3.2.3 atext, plus UTF8-non-ascii (RFC 6531 §3.3).
bool is_atext(unsigned char c) {
    if (is_alpha(c) || is_digit(c) || non_ascii(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
        return true;
    default:
        return false;
    }
}

// RFC 5321 qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF8-non-ascii (RFC 6531).
bool is_qtext(unsigned char c) {
    return (c >= 32 && c <= 126 && c != '"' && c != '\\') || non_ascii(c);
}

bool is_let_dig(unsigned char c) { return is_alpha(c) || is_digit(c) || non_ascii(c); }

// One sub-domain: Let-dig [Ldh-str] (RFC 5321), U-label octets allowed (RFC 6531 §3.3).
bool is_sub_domain(std::string_view s) {
    if (s.empty() || s.size() > max_label) return false;
    if (!is_let_dig(static_cast<unsigned char>(s.front()))) return false;
    if (!is_let_dig(static_cast<unsigned char>(s.back()))) return false;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (!is_let_dig(c) && c != '-') return false;
    }
    return true;
}

bool has_non_ascii(std::string_view s) {
    for (char c : s)
        if (non_ascii(static_cast<unsigned char>(c))) return true;
    return false;
}

} // namespace

bool is_valid_utf8(std::string_view s) {
    // RFC 3629 §4: reject overlongs, surrogates and code points beyond U+10FFFF.
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) { ++i; continue; }
        std::size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) { n = 2; lo = 0xA0; }
        else if (c == 0xED) { n = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) n = 2;
        else if (c == 0xF0) { n = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) { n = 3; hi = 0x8F; }
        else return false;
        if (i + n >= s.size()) return false; // truncated sequence
        for (std::size_t k = 1; k <= n; ++k) {
            auto d = static_cast<unsigned char>(s[i + k]);
            unsigned l = (k == 1) ? lo : 0x80, h = (k == 1) ? hi : 0xBF;
            if (d < l || d > h) return false;
        }
        i += n + 1;
    }
    return true;
}

bool is_dot_string(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    char prev = 0;
    for (char ch : s) {
        if (ch == '.') {
            if (prev == '.') return false; // RFC 5321: Atom *("." Atom), no empty atoms
        } else if (!is_atext(static_cast<unsigned char>(ch))) {
            return false;
        }
        prev = ch;
    }
    return true;
}

bool is_domain(std::string_view s) {
    if (s.empty() || s.size() > max_domain) return false;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = s.find('.', start);
        std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (!is_sub_domain(label)) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_ipv4_literal(std::string_view s) {
    // RFC 5321 §4.1.3: Snum 3("." Snum), Snum = 1*3DIGIT representing 0-255.
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t n = 0;
        unsigned v = 0;
        while (i < s.size() && is_digit(static_cast<unsigned char>(s[i])) && n < 4) {
            v = v * 10 + static_cast<unsigned>(s[i] - '0');
            ++i;
            ++n;
        }
        if (n == 0 || n > 3 || v > 255) return false;
        ++parts;
        if (parts == 4) return i == s.size();
        if (i >= s.size() || s[i] != '.') return false;
        ++i;
    }
}

bool is_ipv6_literal(std::string_view s) {
    // RFC 5321 §4.1.3 IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 4291 §2.2 text).
    if (s.empty()) return false;
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.substr(0, 2) == "::") {
        compressed = true;
        i = 2;
        if (i == s.size()) return true;
    } else if (s.front() == ':') {
        return false;
    }
    while (i < s.size()) {
        std::size_t j = i;
        while (j < s.size() && is_hex(static_cast<unsigned char>(s[j])) && j - i < 5) ++j;
        if (j < s.size() && s[j] == '.') { // IPv4 tail: counts as two groups
            if (!is_ipv4_literal(s.substr(i))) return false;
            groups += 2;
            i = s.size();
            break;
        }
        if (j == i || j - i > 4) return false;
        ++groups;
        i = j;
        if (i == s.size()) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (compressed) return false; // only one "::"
            compressed = true;
            ++i;
            if (i == s.size()) break;
        } else if (i == s.size()) {
            return false; // trailing single ':'
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

std::string path::address() const {
    if (null_path) return {};
    std::string out;
    if (is_dot_string(local)) {
        out = local;
    } else {
        // RFC 5321 §4.1.2: re-quote, escaping the two characters qtextSMTP excludes.
        out += '"';
        for (char c : local) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    if (!domain.empty()) {
        out += '@';
        out += domain;
    }
    return out;
}

path_result parse_path(std::string_view in, path_kind kind) {
    path_result r;
    auto fail = [&r](path_error e) {
        r.error = e;
        r.value = path{};
        return r;
    };
    if (in.empty() || in.front() != '<') return fail(path_error::syntax);
    std::size_t i = 1;

    // Null reverse-path (RFC 5321 §4.1.1.2).
    if (in.substr(0, 2) == "<>") {
        if (kind != path_kind::reverse) return fail(path_error::syntax);
        r.value.null_path = true;
        r.length = 2;
        return r;
    }

    // A-d-l ":" — source route, RFC 5321 §4.1.2 / Appendix C: parsed, flagged, then ignored.
    if (i < in.size() && in[i] == '@') {
        while (true) {
            if (i >= in.size() || in[i] != '@') return fail(path_error::syntax);
            std::size_t j = i + 1;
            while (j < in.size() && in[j] != ',' && in[j] != ':' && in[j] != '>') ++j;
            if (j >= in.size() || !is_domain(in.substr(i + 1, j - i - 1)))
                return fail(path_error::syntax);
            i = j + 1;
            if (in[j] == ':') break;
            if (in[j] != ',') return fail(path_error::syntax);
        }
        r.value.had_source_route = true;
    }

    // Local-part = Dot-string / Quoted-string.
    std::size_t local_start = i;
    if (i < in.size() && in[i] == '"') {
        r.value.quoted = true;
        ++i;
        while (true) {
            if (i >= in.size()) return fail(path_error::syntax);
            auto c = static_cast<unsigned char>(in[i]);
            if (c == '"') { ++i; break; }
            if (c == '\\') { // quoted-pairSMTP = %d92 %d32-126
                if (i + 1 >= in.size()) return fail(path_error::syntax);
                auto d = static_cast<unsigned char>(in[i + 1]);
                if (d < 32 || d > 126) return fail(path_error::syntax);
                r.value.local += static_cast<char>(d);
                i += 2;
                continue;
            }
            if (!is_qtext(c)) return fail(path_error::syntax);
            r.value.local += static_cast<char>(c);
            ++i;
        }
    } else {
        std::size_t j = i;
        while (j < in.size() && (is_atext(static_cast<unsigned char>(in[j])) || in[j] == '.')) ++j;
        r.value.local.assign(in.substr(i, j - i));
        if (!is_dot_string(r.value.local)) return fail(path_error::syntax);
        i = j;
    }
    std::size_t local_len = i - local_start; // as written on the wire, quotes included
    if (local_len > max_local) return fail(path_error::local_too_long);

    if (i < in.size() && in[i] == '>') {
        // Only "<Postmaster>" may go without a domain (RFC 5321 §4.1.1.3), and only in RCPT.
        if (kind != path_kind::forward || r.value.quoted || r.value.had_source_route ||
            !iequals(r.value.local, "Postmaster"))
            return fail(path_error::syntax);
    } else {
        if (i >= in.size() || in[i] != '@') return fail(path_error::syntax);
        ++i;
        std::size_t d = i;
        if (i < in.size() && in[i] == '[') {
            std::size_t close = in.find(']', i);
            if (close == std::string_view::npos) return fail(path_error::syntax);
            std::string_view lit = in.substr(i + 1, close - i - 1);
            if (istarts_with(lit, "IPv6:")) {
                if (!is_ipv6_literal(lit.substr(5))) return fail(path_error::syntax);
            } else if (!is_ipv4_literal(lit)) {
                // General-address-literal: Standardized-tag ":" 1*dcontent (RFC 5321 §4.1.3).
                std::size_t colon = lit.find(':');
                if (colon != std::string_view::npos && colon > 0)
                    return fail(path_error::unsupported_literal);
                return fail(path_error::syntax);
            }
            i = close + 1;
        } else {
            while (i < in.size() && in[i] != '>') ++i;
        }
        r.value.domain.assign(in.substr(d, i - d));
        if (r.value.domain.size() > max_domain) return fail(path_error::domain_too_long);
        if (!r.value.is_address_literal() && !is_domain(r.value.domain)) {
            // Tell a too-long label apart from bad syntax for a clearer reply.
            std::size_t start = 0;
            bool long_label = false;
            while (start <= r.value.domain.size()) {
                std::size_t dot = r.value.domain.find('.', start);
                if (dot == std::string::npos) dot = r.value.domain.size();
                if (dot - start > max_label) long_label = true;
                start = dot + 1;
            }
            return fail(long_label ? path_error::domain_too_long : path_error::syntax);
        }
    }
    if (i >= in.size() || in[i] != '>') return fail(path_error::syntax);
    ++i;
    if (i > max_path) return fail(path_error::too_long);
    r.value.raw.assign(in.substr(1, i - 2));
    if (has_non_ascii(r.value.raw)) {
        if (!is_valid_utf8(r.value.raw)) return fail(path_error::bad_utf8);
        r.utf8 = true;
    }
    r.length = i;
    return r;
}

} // namespace cartero::smtp
