// core/address_norm.cpp — domain (IDNA via libidn2) and address normalisation; never throws.
#include "core/address_norm.hpp"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace cartero::names {
namespace {

using result = parsed<std::string>;

// Longer input is refused before any work, so hostile megabyte arguments cost nothing.
constexpr std::size_t max_input = 1024;

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ldh(char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-'; }

// RFC 5322 §3.2.3 atext, ASCII part.
bool is_atext(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}':
    case '~':
        return true;
    default:
        return false;
    }
}

// Control characters and whitespace are refused before anything else looks at the text, so
// later messages can quote it safely.
std::string refuse_controls(std::string_view what, std::string_view in) {
    for (char ch : in) {
        auto c = static_cast<unsigned char>(ch);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            return std::string(what) + " " + quoted(in) + " contains whitespace";
        if (c < 0x20 || c == 0x7f)
            return std::string(what) + " " + quoted(in) + " contains a control character";
    }
    return {};
}

// Checks an ASCII, lower-cased name against RFC 1035 §2.3.1 / RFC 1123 §2.1 LDH rules.
std::string check_ldh(std::string_view name, std::string_view shown) {
    auto bad = [&](std::string why) { return "domain " + quoted(shown) + " " + why; };
    if (name.size() > 253) return bad("is longer than 253 octets");
    if (!name.empty() && name.back() == '.')
        return bad("ends with a dot; write it without the trailing dot");
    std::size_t labels = 0;
    std::size_t start = 0;
    std::string_view last;
    while (true) {
        std::size_t dot = name.find('.', start);
        std::string_view label =
            name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        ++labels;
        if (label.empty()) return bad("has an empty label (two dots in a row, or a leading dot)");
        if (label.size() > 63)
            return bad("has a label longer than 63 octets: " + quoted(label, 20));
        for (char c : label)
            if (!is_ldh(c))
                return bad("contains " + quoted(std::string_view(&c, 1)) +
                           "; only letters, digits, hyphens and dots are allowed");
        if (label.front() == '-' || label.back() == '-')
            return bad("has a label that starts or ends with a hyphen: " + quoted(label, 63));
        last = label;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (labels < 2) return bad("needs at least two labels, like example.org");
    bool numeric = true;
    for (char c : last) numeric = numeric && is_digit(c);
    if (numeric) {
        bool all = true;
        for (char c : name) all = all && (is_digit(c) || c == '.');
        if (all) return bad("is an IP address; a domain name is needed");
        return bad("ends in an all-numeric label, which no top-level domain is");
    }
    return {};
}

struct idn2_deleter {
    void operator()(char* p) const { idn2_free(p); }
};

} // namespace

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

parsed<std::string> normalize_domain(std::string_view in) {
    if (in.empty()) return result::failure("the domain name is empty");
    if (in.size() > max_input)
        return result::failure("domain " + quoted(in, 40) + " is longer than 253 octets");
    if (auto e = refuse_controls("domain", in); !e.empty()) return result::failure(e);
    if (in.front() == '[' || in.find(':') != std::string_view::npos)
        return result::failure("domain " + quoted(in) +
                               " is an IP address literal; a domain name is needed");
    if (in.back() == '.')
        return result::failure("domain " + quoted(in) +
                               " ends with a dot; write it without the trailing dot");
    if (in.find('@') != std::string_view::npos)
        return result::failure("domain " + quoted(in) + " contains '@'; give the domain only");

    std::string ascii = ascii_lower(in);
    // Plain LDH names need no IDNA processing; only U-labels and A-labels ("xn--", whose
    // Punycode must decode to a valid U-label) go through libidn2.
    if (is_ascii(in)) {
        if (auto e = check_ldh(ascii, in); !e.empty()) return result::failure(e);
        if (ascii.find("xn--") == std::string::npos) return result::success(std::move(ascii));
    } else {
        for (std::size_t i = 0; i < in.size();) {
            char32_t cp = 0;
            std::size_t n = utf8_sequence(in, i, cp);
            if (n == 0)
                return result::failure("domain " + quoted(in) + " is not valid UTF-8");
            i += n;
        }
    }
    char* raw = nullptr;
    int rc = idn2_to_ascii_8z(ascii.c_str(), &raw, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    std::unique_ptr<char, idn2_deleter> out(raw);
    if (rc != IDN2_OK || !out)
        return result::failure("domain " + quoted(in) + " is not a valid internationalised name (" +
                               idn2_strerror(rc) + ")");
    std::string a = ascii_lower(out.get());
    if (auto e = check_ldh(a, in); !e.empty()) return result::failure(e);
    return result::success(std::move(a));
}

parsed<std::string> normalize_address(std::string_view in) {
    auto bad = [&](std::string why) { return result::failure("address " + quoted(in) + " " + why); };
    if (in.empty()) return result::failure("the address is empty");
    if (in.size() > max_input) return bad("is longer than 254 octets");
    if (auto e = refuse_controls("address", in); !e.empty()) return result::failure(e);
    if (in.front() == '<' || in.back() == '>') return bad("must be written without angle brackets");
    if (in.front() == '"' || in.find('"') != std::string_view::npos)
        return bad("has a quoted local part; quoted local parts are not accepted");
    if (in.front() == '@') {
        if (in.find(':') != std::string_view::npos)
            return bad("is a source route (@host:user@domain); source routes are not accepted");
        return bad("has nothing before '@'; write it as user@domain");
    }
    std::size_t at = in.find('@');
    if (at == std::string_view::npos) return bad("has no '@'; write it as user@domain");
    if (in.find('@', at + 1) != std::string_view::npos) return bad("has more than one '@'");
    std::string_view local = in.substr(0, at);
    std::string_view domain = in.substr(at + 1);

    // RFC 5321 §3.6 / §4.1.2: the percent hack and bang paths are relay tricks; refuse them by
    // name so the operator sees why.
    if (local.find('%') != std::string_view::npos)
        return bad("contains '%' (the percent-hack relay trick); it is not accepted");
    if (local.find('!') != std::string_view::npos)
        return bad("contains '!' (a UUCP bang path); it is not accepted");
    if (local.size() > 64) return bad("has a local part longer than 64 octets");
    if (local.front() == '.' || local.back() == '.')
        return bad("has a local part that starts or ends with a dot");
    if (local.find("..") != std::string_view::npos)
        return bad("has two dots in a row in its local part");
    for (std::size_t i = 0; i < local.size();) {
        auto c = static_cast<unsigned char>(local[i]);
        if (c < 0x80) {
            if (c != '.' && !is_atext(static_cast<char>(c)))
                return bad("contains " + quoted(local.substr(i, 1)) +
                           ", which would need a quoted local part; those are not accepted");
            ++i;
            continue;
        }
        char32_t cp = 0;
        std::size_t n = utf8_sequence(local, i, cp);
        if (n == 0) return bad("is not valid UTF-8");
        if (cp < 0xa0) return bad("contains a control character");
        i += n;
    }
    if (domain.empty()) return bad("has no domain after '@'");
    auto d = normalize_domain(domain);
    if (!d) return result::failure("address " + quoted(in) + ": " + d.error);
    std::string out = ascii_lower(local);
    out += '@';
    out += d.value;
    if (out.size() > 254) return bad("is longer than 254 octets");
    return result::success(std::move(out));
}

} // namespace cartero::names
