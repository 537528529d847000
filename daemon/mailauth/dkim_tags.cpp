// daemon/mailauth/dkim_tags.cpp — RFC 6376 §3.2 tag-list parsing.
#include "daemon/mailauth/dkim_tags.hpp"

namespace cartero::mailauth {
namespace {

bool is_fws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_fws(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_fws(s.back()))
        s.remove_suffix(1);
    return s;
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

} // namespace

std::optional<tag_list> tag_list::parse(std::string_view text) {
    tag_list out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t semi = text.find(';', pos);
        std::size_t end = semi == std::string_view::npos ? text.size() : semi;
        std::string_view spec = trim(text.substr(pos, end - pos));
        bool last = semi == std::string_view::npos;
        if (spec.empty()) {
            // tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: only the part after a final ';'
            // (or an entirely empty list) may be empty.
            if (!last || (out.tags_.empty() && semi != std::string_view::npos)) return std::nullopt;
            break;
        }
        std::size_t eq = spec.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        std::string_view name = trim(spec.substr(0, eq));
        // tag-name = ALPHA *ALNUMPUNC
        if (name.empty() || !is_alpha(name.front())) return std::nullopt;
        for (char c : name)
            if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '_') return std::nullopt;
        if (out.has(name)) return std::nullopt; // RFC 6376 §3.2: duplicate tags are an error
        out.tags_.emplace_back(std::string(name), std::string(trim(spec.substr(eq + 1))));
        if (last) break;
        pos = semi + 1;
    }
    return out;
}

const std::string* tag_list::find(std::string_view name) const {
    for (const auto& [n, v] : tags_)
        if (n == name) return &v;
    return nullptr;
}

std::vector<std::string> split_trimmed(std::string_view s, char sep) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (true) {
        std::size_t at = s.find(sep, pos);
        out.emplace_back(trim(s.substr(pos, at == std::string_view::npos ? s.npos : at - pos)));
        if (at == std::string_view::npos) break;
        pos = at + 1;
    }
    return out;
}

std::string strip_fws(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (!is_fws(c)) out += c;
    return out;
}

} // namespace cartero::mailauth
