// core/dns/query_name.cpp — checking and converting names before they reach libunbound.
#include "core/dns/query_name.hpp"

#include "core/address_norm.hpp"

namespace cartero::dns {
namespace {

bool ascii_only(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

// RFC 1035 §2.3.4: labels 63 octets or less, names 255 octets or less on the wire, which is 253
// characters in presentation form without the trailing dot.
constexpr std::size_t max_label = 63, max_name = 253;

parsed<std::string> check_ascii(std::string_view name, std::string_view shown) {
    using r = parsed<std::string>;
    if (name.size() > max_name)
        return r::failure("name " + quoted(shown) + " is longer than 253 octets");
    std::string out;
    out.reserve(name.size());
    std::size_t label = 0;
    for (std::size_t i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '.') {
            if (label == 0) return r::failure("name " + quoted(shown) + " has an empty label");
            if (label > max_label)
                return r::failure("name " + quoted(shown) + " has a label longer than 63 octets");
            label = 0;
            if (i < name.size()) out += '.';
            continue;
        }
        char c = name[i];
        if (!name_char(c))
            return r::failure("name " + quoted(shown) +
                              " contains a character that is not a letter, digit, '-' or '_'");
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        ++label;
    }
    return r::success(std::move(out));
}

} // namespace

parsed<std::string> query_name(std::string_view name) {
    using r = parsed<std::string>;
    const std::string_view shown = name;
    if (name.empty()) return r::failure("the name to look up is empty");
    for (char c : name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return r::failure("name " + quoted(shown) + " contains a control character");
    if (name == ".") return r::success(".");
    if (name.back() == '.') name.remove_suffix(1);
    if (ascii_only(name)) return check_ascii(name, shown);

    // Unicode: service labels (_dmarc, _domainkey, _tcp) in front stay as they are; the host
    // name part is converted to A-labels.
    std::string prefix;
    while (!name.empty() && name.front() == '_') {
        auto dot = name.find('.');
        if (dot == std::string_view::npos) break;
        std::string_view label = name.substr(0, dot);
        if (!ascii_only(label))
            return r::failure("name " + quoted(shown) + " has a non-ASCII underscore label");
        prefix.append(label).push_back('.');
        name.remove_prefix(dot + 1);
    }
    auto host = names::normalize_domain(name);
    if (!host) return r::failure("name " + quoted(shown) + " cannot be looked up: " + host.error);
    return check_ascii(prefix + host.value, shown);
}

} // namespace cartero::dns
