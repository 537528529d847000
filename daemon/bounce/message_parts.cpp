// daemon/bounce/message_parts.cpp — header unfolding, Content-Type, multipart split, CTE decoding.
#include "daemon/bounce/message_parts.hpp"

#include <algorithm>

namespace cartero::bounce::mime {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return std::string(s);
}

std::pair<std::string_view, std::string_view> split(std::string_view m) {
    // The empty line: "\n\n" or "\n\r\n" (LF-only, CRLF or mixed).
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (i == 0 && (m[0] == '\n' || (m.size() > 1 && m[0] == '\r' && m[1] == '\n'))) {
            return {m.substr(0, 0), m.substr(m[0] == '\n' ? 1 : 2)};
        }
        if (m[i] != '\n') continue;
        if (i + 1 < m.size() && m[i + 1] == '\n') return {m.substr(0, i + 1), m.substr(i + 2)};
        if (i + 2 < m.size() && m[i + 1] == '\r' && m[i + 2] == '\n')
            return {m.substr(0, i + 1), m.substr(i + 3)};
    }
    return {m, std::string_view()};
}

std::vector<field> parse_fields(std::string_view block) {
    std::vector<field> out;
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t e = block.find('\n', pos);
        std::string_view line = block.substr(pos, e == std::string_view::npos ? e : e - pos);
        pos = e == std::string_view::npos ? block.size() : e + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) { // RFC 5322 §2.2.3 unfold
            out.back().value += std::string(line);
            continue;
        }
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue; // not a field: skip
        out.push_back({trim(line.substr(0, colon)), std::string(line.substr(colon + 1))});
    }
    for (auto& f : out) f.value = trim(f.value);
    return out;
}

std::optional<std::string> get(const std::vector<field>& fs, std::string_view name) {
    const std::string n = lower(name);
    for (const auto& f : fs)
        if (lower(f.name) == n) return f.value;
    return std::nullopt;
}

std::string content_type::param(std::string_view name) const {
    for (const auto& [k, v] : params)
        if (k == name) return v;
    return {};
}

content_type parse_content_type(std::string_view v) {
    content_type ct;
    std::size_t semi = v.find(';');
    ct.type = lower(trim(v.substr(0, semi)));
    if (ct.type.empty()) ct.type = "text/plain";
    while (semi != std::string_view::npos) {
        v.remove_prefix(semi + 1);
        std::size_t eq = v.find('=');
        if (eq == std::string_view::npos) break;
        std::string key = lower(trim(v.substr(0, eq)));
        v.remove_prefix(eq + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        std::string val;
        if (!v.empty() && v.front() == '"') { // quoted-string, backslash escapes
            std::size_t i = 1;
            for (; i < v.size() && v[i] != '"'; ++i) {
                if (v[i] == '\\' && i + 1 < v.size()) ++i;
                val += v[i];
            }
            v.remove_prefix(std::min(i + 1, v.size()));
            semi = v.find(';');
        } else {
            semi = v.find(';');
            val = trim(v.substr(0, semi));
        }
        ct.params.emplace_back(std::move(key), std::move(val));
    }
    return ct;
}

std::vector<std::string_view> multipart(std::string_view body, std::string_view boundary) {
    std::vector<std::string_view> parts;
    if (boundary.empty()) return parts;
    const std::string delim = "--" + std::string(boundary);
    std::size_t pos = 0;
    std::size_t part_start = std::string_view::npos;
    while (pos <= body.size()) {
        std::size_t e = body.find('\n', pos);
        std::string_view line = body.substr(pos, e == std::string_view::npos ? e : e - pos);
        std::string_view l = line;
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        while (!l.empty() && (l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
        if (l.substr(0, delim.size()) == delim) {
            std::string_view rest = l.substr(delim.size());
            if (rest.empty() || rest == "--") {
                if (part_start != std::string_view::npos) {
                    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
                    std::size_t end = pos;
                    if (end > part_start && body[end - 1] == '\n') --end;
                    if (end > part_start && body[end - 1] == '\r') --end;
                    parts.push_back(body.substr(part_start, end - part_start));
                }
                if (rest == "--") return parts;
                part_start = e == std::string_view::npos ? body.size() : e + 1;
            }
        }
        if (e == std::string_view::npos) break;
        pos = e + 1;
    }
    return parts; // no close delimiter: take what was complete
}

namespace {

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

} // namespace

std::string decode(std::string_view body, std::string_view cte) {
    const std::string enc = lower(trim(cte));
    std::string out;
    if (enc == "base64") { // lenient: whitespace and junk skipped (RFC 2045 §6.8)
        unsigned acc = 0;
        int bits = 0;
        for (char c : body) {
            if (c == '=') break;
            int v = b64_value(c);
            if (v < 0) continue;
            acc = (acc << 6) | static_cast<unsigned>(v);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out += static_cast<char>((acc >> bits) & 0xff);
            }
        }
        return out;
    }
    if (enc == "quoted-printable") { // RFC 2045 §6.7: =XX, soft line breaks "=\r\n"
        for (std::size_t i = 0; i < body.size(); ++i) {
            if (body[i] != '=') {
                out += body[i];
                continue;
            }
            if (i + 1 < body.size() && body[i + 1] == '\n') {
                i += 1;
            } else if (i + 2 < body.size() && body[i + 1] == '\r' && body[i + 2] == '\n') {
                i += 2;
            } else if (i + 2 < body.size() && hex_value(body[i + 1]) >= 0 && hex_value(body[i + 2]) >= 0) {
                out += static_cast<char>(hex_value(body[i + 1]) * 16 + hex_value(body[i + 2]));
                i += 2;
            } else {
                out += '=';
            }
        }
        return out;
    }
    return std::string(body);
}

} // namespace cartero::bounce::mime
