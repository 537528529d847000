// daemon/smtp/esmtp_params.cpp — MAIL FROM / RCPT TO argument parsing.
#include "daemon/smtp/esmtp_params.hpp"

#include "daemon/smtp/command_parser.hpp"

#include <cstdint>

namespace cartero::smtp {

namespace {

bool is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_value_char(unsigned char c) { return (c >= 33 && c <= 126 && c != '=') || c >= 0x80; }

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

} // namespace

bool parse_esmtp_params(std::string_view s, std::vector<esmtp_param>& out) {
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i >= s.size()) return true;
        std::size_t end = s.find(' ', i);
        if (end == std::string_view::npos) end = s.size();
        std::string_view tok = s.substr(i, end - i);
        i = end;
        std::size_t eq = tok.find('=');
        std::string_view key = tok.substr(0, eq);
        if (key.empty() || !is_alnum(static_cast<unsigned char>(key.front()))) return false;
        esmtp_param p;
        for (char c : key) {
            if (!is_alnum(static_cast<unsigned char>(c)) && c != '-') return false;
            p.keyword += upper(c);
        }
        if (eq != std::string_view::npos) {
            std::string_view value = tok.substr(eq + 1);
            if (value.empty()) return false; // "KEY=" has no value: 1*(...) in the grammar
            for (char c : value)
                if (!is_value_char(static_cast<unsigned char>(c))) return false;
            p.value.assign(value);
        }
        out.push_back(std::move(p));
    }
}

mail_rcpt_args parse_mail_rcpt_args(std::string_view args, std::string_view keyword,
                                    path_kind kind) {
    mail_rcpt_args r;
    if (!istarts_with(args, keyword)) {
        r.error = args_error::syntax;
        return r;
    }
    args.remove_prefix(keyword.size());
    if (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    if (args.empty() || args.front() != '<') {
        r.error = args_error::syntax; // RFC 5321 §4.1.2: the angle brackets are required
        return r;
    }
    r.path = parse_path(args, kind);
    if (!r.path.ok()) {
        r.error = args_error::bad_path;
        return r;
    }
    args.remove_prefix(r.path.length);
    if (!args.empty() && args.front() != ' ') { // "<a@b>X": parameters need a separating SP
        r.error = args_error::syntax;
        return r;
    }
    if (!parse_esmtp_params(args, r.params)) r.error = args_error::bad_params;
    return r;
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// RFC 6533 §3: utf-8-addr-unitext may carry "\x{HEXPOINT}" escapes (1–6 hex digits).
std::optional<std::string> decode_unitext_escapes(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 2 < s.size() && s[i + 1] == 'x' && s[i + 2] == '{') {
            std::size_t close = s.find('}', i + 3);
            if (close == std::string_view::npos || close == i + 3 || close - (i + 3) > 6)
                return std::nullopt;
            std::uint32_t cp = 0;
            for (std::size_t k = i + 3; k < close; ++k) {
                int h = hex_value(s[k]);
                if (h < 0) return std::nullopt;
                cp = cp * 16 + static_cast<std::uint32_t>(h);
            }
            if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
            append_utf8(out, cp);
            i = close;
        } else {
            out += s[i];
        }
    }
    return out;
}

} // namespace

std::optional<std::string> xtext_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return std::nullopt;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::optional<std::string> parse_notify(std::string_view value) {
    static constexpr std::string_view words[] = {"NEVER", "SUCCESS", "FAILURE", "DELAY"};
    if (value.empty()) return std::nullopt;
    bool seen[4] = {false, false, false, false};
    std::size_t count = 0;
    std::string out;
    while (true) {
        std::size_t comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        std::size_t w = 0;
        while (w < 4 && !iequals(item, words[w])) ++w;
        if (w == 4 || seen[w]) return std::nullopt;
        seen[w] = true;
        ++count;
        if (!out.empty()) out += ',';
        out += words[w];
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    if (seen[0] && count > 1) return std::nullopt; // RFC 3461 §4.1: NEVER stands alone
    return out;
}

std::optional<std::string> parse_orcpt(std::string_view value) {
    if (value.size() > 500) return std::nullopt; // RFC 3461 §4.2
    std::size_t semi = value.find(';');
    if (semi == std::string_view::npos) return std::nullopt;
    std::string_view type = value.substr(0, semi);
    const bool utf8 = iequals(type, "utf-8");
    if (!utf8 && !iequals(type, "rfc822")) return std::nullopt;
    auto addr = xtext_decode(value.substr(semi + 1));
    if (!addr || addr->empty()) return std::nullopt;
    if (utf8) return decode_unitext_escapes(*addr);
    return addr;
}

} // namespace cartero::smtp
