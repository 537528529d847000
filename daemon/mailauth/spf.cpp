// daemon/mailauth/spf.cpp — RFC 7208 check_host(): record selection, term parsing (the whole
// record is checked for syntax before any term is evaluated, §4.6), evaluation, macros.
#include "daemon/mailauth/spf.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <optional>

namespace cartero::mailauth {

std::string_view to_string(spf_result r) {
    switch (r) {
    case spf_result::none: return "none";
    case spf_result::neutral: return "neutral";
    case spf_result::pass: return "pass";
    case spf_result::fail: return "fail";
    case spf_result::softfail: return "softfail";
    case spf_result::temperror: return "temperror";
    case spf_result::permerror: return "permerror";
    }
    return "permerror";
}

namespace {

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && lower(a) == lower(b);
}

// An error that ends check_host() (§4.6: permerror and temperror are final).
struct spf_abort {
    spf_result result;
    std::string why;
};

[[noreturn]] void perm(std::string why) { throw spf_abort{spf_result::permerror, std::move(why)}; }
[[noreturn]] void temp(std::string why) { throw spf_abort{spf_result::temperror, std::move(why)}; }

struct ip_addr {
    bool v6 = false;
    std::array<unsigned char, 16> b{};
};

std::optional<ip_addr> parse_ip(std::string_view s) {
    std::string z(s);
    ip_addr a;
    if (inet_pton(AF_INET, z.c_str(), a.b.data()) == 1) return a;
    if (inet_pton(AF_INET6, z.c_str(), a.b.data()) == 1) {
        // An IPv4-mapped address is the IPv4 client it stands for.
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(a.b.data(), mapped, 12) == 0) {
            std::memmove(a.b.data(), a.b.data() + 12, 4);
            std::fill(a.b.begin() + 4, a.b.end(), 0);
            return a;
        }
        a.v6 = true;
        return a;
    }
    return std::nullopt;
}

bool in_network(const ip_addr& client, const ip_addr& net, int prefix) {
    if (client.v6 != net.v6) return false;
    int full = prefix / 8, rest = prefix % 8;
    if (std::memcmp(client.b.data(), net.b.data(), static_cast<std::size_t>(full)) != 0)
        return false;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (client.b[static_cast<std::size_t>(full)] & mask) ==
           (net.b[static_cast<std::size_t>(full)] & mask);
}

std::string strip_dot(std::string_view s) {
    if (!s.empty() && s.back() == '.') s.remove_suffix(1);
    return std::string(s);
}

// Labels of 1–63 octets, at most 253 in all: a name that can be asked for at all.
bool plausible_name(std::string_view n) {
    if (n.empty() || n.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        auto dot = n.find('.', start);
        auto len = (dot == std::string_view::npos ? n.size() : dot) - start;
        if (len == 0 || len > 63) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view l) {
    if (l.empty()) return false;
    bool all_alnum = std::all_of(l.begin(), l.end(), is_alnum);
    if (all_alnum) return std::any_of(l.begin(), l.end(), is_alpha);
    return is_alnum(l.front()) && is_alnum(l.back()) &&
           std::all_of(l.begin(), l.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// One parsed macro-string piece.
struct macro_piece {
    bool literal = true;
    std::string text;      // literal text (with %% %_ %- already resolved)
    char letter = 0;       // macro letter, lower-case
    bool url_escape = false; // upper-case letter
    int digits = 0;        // 0 = all
    bool reverse = false;
    std::string delimiters; // empty = "."
};

// §7.1 macro-string syntax. `exp_text` allows c, r, t. Throws permerror.
std::vector<macro_piece> parse_macro_string(std::string_view s, bool exp_text) {
    std::vector<macro_piece> out;
    std::string lit;
    auto flush = [&] {
        if (!lit.empty()) {
            macro_piece m;
            m.text = std::move(lit);
            out.push_back(std::move(m));
        }
        lit.clear();
    };
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c != '%') {
            // macro-literal = %x21-24 / %x26-7E (visible characters except "%")
            if (!exp_text && (c < 0x21 || c > 0x7e)) perm("invalid character in macro-string");
            lit += c;
            continue;
        }
        if (i + 1 >= s.size()) perm("'%' at the end of a macro-string");
        char n = s[++i];
        if (n == '%') { lit += '%'; continue; }
        if (n == '_') { lit += ' '; continue; }
        if (n == '-') { lit += "%20"; continue; }
        if (n != '{') perm(std::string("invalid macro: %") + n);
        auto close = s.find('}', i);
        if (close == std::string_view::npos) perm("unterminated macro");
        std::string_view body = s.substr(i + 1, close - i - 1);
        i = close;
        if (body.empty()) perm("empty macro");
        macro_piece m;
        m.literal = false;
        char letter = body[0];
        m.url_escape = std::isupper(static_cast<unsigned char>(letter)) != 0;
        m.letter = static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
        if (std::string_view("slodiphcrtv").find(m.letter) == std::string_view::npos)
            perm(std::string("unknown macro letter: ") + letter);
        if (!exp_text && std::string_view("crt").find(m.letter) != std::string_view::npos)
            perm("c, r and t macros are allowed in exp= text only");
        std::size_t j = 1;
        std::string digits;
        while (j < body.size() && std::isdigit(static_cast<unsigned char>(body[j])))
            digits += body[j++];
        if (!digits.empty()) {
            if (digits.size() > 3) perm("macro transformer too large");
            m.digits = std::stoi(digits);
            // §7.1: the DIGIT transformer, if present, must not be zero.
            if (m.digits == 0) perm("macro transformer of zero");
        }
        if (j < body.size() && (body[j] == 'r' || body[j] == 'R')) {
            m.reverse = true;
            ++j;
        }
        for (; j < body.size(); ++j) {
            if (std::string_view(".-+,/_=").find(body[j]) == std::string_view::npos)
                perm("invalid macro delimiter");
            m.delimiters += body[j];
        }
        flush();
        out.push_back(std::move(m));
    }
    flush();
    return out;
}

// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
void check_domain_spec(std::string_view s) {
    if (s.empty()) perm("empty domain-spec");
    parse_macro_string(s, false);
    // Ends with a macro-expand?
    if (s.back() == '}') return;
    if (s.size() >= 2 && s[s.size() - 2] == '%' && std::string_view("%_-").find(s.back()) !=
                                                       std::string_view::npos) {
        // "%%" at the end may itself be the tail of a literal "%%%": count the run of '%'.
        std::size_t run = 0, k = s.size() - 1;
        while (k > 0 && s[k - 1] == '%') { ++run; --k; }
        if (run % 2 == 1) return;
    }
    std::string_view t = s;
    if (t.back() == '.') t.remove_suffix(1);
    auto dot = t.rfind('.');
    if (dot == std::string_view::npos || !is_toplabel(t.substr(dot + 1)))
        perm("invalid domain-spec (use a fully qualified name): " + std::string(s));
}

bool is_unreserved(char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

enum class mech_kind { all, include, a, mx, ptr, ip4, ip6, exists };

struct term {
    spf_result qualifier = spf_result::pass;
    mech_kind kind = mech_kind::all;
    std::string text;   // as written, for the outcome
    std::string domain; // domain-spec (unexpanded); empty = <domain>
    int cidr4 = 32, cidr6 = 128;
    ip_addr net;
};

struct record {
    std::vector<term> terms;
    std::optional<std::string> redirect, exp;
};

// "/24" or "//64" suffixes (no leading zeros), taken from the end.
std::optional<int> take_cidr(std::string& s, std::string_view sep) {
    auto pos = s.rfind(sep);
    if (pos == std::string::npos) return std::nullopt;
    std::string digits = s.substr(pos + sep.size());
    if (digits.empty() || digits.size() > 3 ||
        !std::all_of(digits.begin(), digits.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }) ||
        (digits.size() > 1 && digits[0] == '0'))
        return std::nullopt;
    if (sep == "/" && pos > 0 && s[pos - 1] == '/') return std::nullopt; // part of "//"
    s.erase(pos);
    return std::stoi(digits);
}

term parse_mechanism(std::string_view text) {
    term t;
    t.text = std::string(text);
    std::string s(text);
    switch (s.empty() ? '\0' : s[0]) {
    case '+': t.qualifier = spf_result::pass; s.erase(0, 1); break;
    case '-': t.qualifier = spf_result::fail; s.erase(0, 1); break;
    case '~': t.qualifier = spf_result::softfail; s.erase(0, 1); break;
    case '?': t.qualifier = spf_result::neutral; s.erase(0, 1); break;
    default: break;
    }
    auto c6 = take_cidr(s, "//");
    auto c4 = take_cidr(s, "/");
    auto colon = s.find(':');
    std::string name = lower(s.substr(0, colon));
    std::optional<std::string> arg;
    if (colon != std::string::npos) arg = s.substr(colon + 1);
    auto no_cidr = [&] {
        if (c4 || c6) perm("CIDR length not allowed: " + t.text);
    };
    if (name == "all") {
        t.kind = mech_kind::all;
        no_cidr();
        if (arg) perm("all takes no argument: " + t.text);
    } else if (name == "include" || name == "exists") {
        t.kind = name == "include" ? mech_kind::include : mech_kind::exists;
        no_cidr();
        if (!arg || arg->empty()) perm(name + " needs a domain: " + t.text);
        check_domain_spec(*arg);
        t.domain = *arg;
    } else if (name == "a" || name == "mx") {
        t.kind = name == "a" ? mech_kind::a : mech_kind::mx;
        if (c4) {
            if (*c4 > 32) perm("invalid IPv4 CIDR length: " + t.text);
            t.cidr4 = *c4;
        }
        if (c6) {
            if (*c6 > 128) perm("invalid IPv6 CIDR length: " + t.text);
            t.cidr6 = *c6;
        }
        if (arg) {
            check_domain_spec(*arg);
            t.domain = *arg;
        }
    } else if (name == "ptr") {
        t.kind = mech_kind::ptr;
        no_cidr();
        if (arg) {
            check_domain_spec(*arg);
            t.domain = *arg;
        }
    } else if (name == "ip4" || name == "ip6") {
        t.kind = name == "ip4" ? mech_kind::ip4 : mech_kind::ip6;
        if (c6) perm("dual CIDR not allowed: " + t.text);
        if (!arg) perm(name + " needs an address: " + t.text);
        auto a = parse_ip(*arg);
        bool v6 = t.kind == mech_kind::ip6;
        if (!a || a->v6 != v6 || (!v6 && arg->find(':') != std::string::npos))
            perm("invalid " + name + " address: " + t.text);
        t.net = *a;
        int max = v6 ? 128 : 32;
        int len = c4.value_or(max);
        if (len > max) perm("invalid " + name + " CIDR length: " + t.text);
        (v6 ? t.cidr6 : t.cidr4) = len;
    } else {
        perm("unknown mechanism: " + t.text);
    }
    return t;
}

// §4.6.1 / §12: v=spf1 then terms separated by spaces. Syntax errors anywhere: permerror.
record parse_record(std::string_view text) {
    record r;
    std::size_t i = 6; // after "v=spf1"
    while (i < text.size()) {
        if (text[i] == ' ') { ++i; continue; }
        auto end = text.find(' ', i);
        if (end == std::string_view::npos) end = text.size();
        std::string_view tok = text.substr(i, end - i);
        i = end;
        // modifier: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) "=" macro-string
        std::size_t k = 0;
        if (!tok.empty() && is_alpha(tok[0])) {
            k = 1;
            while (k < tok.size() && (is_alnum(tok[k]) || tok[k] == '-' || tok[k] == '_' ||
                                      tok[k] == '.'))
                ++k;
        }
        if (k > 0 && k < tok.size() && tok[k] == '=') {
            std::string name = lower(tok.substr(0, k));
            std::string value(tok.substr(k + 1));
            if (name == "redirect" || name == "exp") {
                auto& slot = name == "redirect" ? r.redirect : r.exp;
                if (slot) perm(name + "= appears more than once");
                check_domain_spec(value);
                slot = value;
            } else {
                parse_macro_string(value, false); // §6: unknown modifiers are ignored
            }
            continue;
        }
        r.terms.push_back(parse_mechanism(tok));
    }
    return r;
}

class evaluation {
  public:
    evaluation(const spf_lookup& lookup, const spf_limits& limits, const spf_request& rq,
               ip_addr ip, std::string sender)
        : lookup_(lookup), limits_(limits), rq_(rq), ip_(ip), sender_(std::move(sender)) {
        auto at = sender_.rfind('@');
        local_ = at == std::string::npos ? "postmaster" : sender_.substr(0, at);
        if (local_.empty()) local_ = "postmaster";
        sender_domain_ = at == std::string::npos ? sender_ : sender_.substr(at + 1);
    }

    spf_result run(const std::string& domain, spf_outcome& out, int depth);

    int dns_terms = 0, voids = 0;
    std::string matched;
    std::string explanation;

  private:
    spf_dns_reply ask(const std::string& name, spf_query type, bool counts_void = true) {
        std::string n = lower(strip_dot(name));
        spf_dns_reply r;
        if (!plausible_name(n)) {
            r.status = spf_dns_reply::status::nxdomain; // a name that cannot exist
        } else {
            r = lookup_(n, type);
        }
        if (r.status == spf_dns_reply::status::temporary)
            temp("DNS lookup of " + n + " failed temporarily");
        if (counts_void && (r.status == spf_dns_reply::status::nxdomain || r.records.empty())) {
            if (++voids > limits_.max_void_lookups)
                perm("more than " + std::to_string(limits_.max_void_lookups) + " void lookups");
        }
        if (r.status == spf_dns_reply::status::nxdomain) r.records.clear();
        return r;
    }

    void count_term() {
        if (++dns_terms > limits_.max_dns_terms)
            perm("more than " + std::to_string(limits_.max_dns_terms) + " DNS lookups");
    }

    // The one SPF record at `domain`: nullopt when there is none (§4.5).
    std::optional<std::string> find_record(const std::string& domain) {
        auto r = ask(domain, spf_query::txt);
        std::vector<std::string> spf;
        for (const auto& t : r.records)
            if (t.size() >= 6 && iequals(std::string_view(t).substr(0, 6), "v=spf1") &&
                (t.size() == 6 || t[6] == ' '))
                spf.push_back(t);
        if (spf.size() > 1) perm("more than one SPF record at " + domain);
        if (spf.empty()) return std::nullopt;
        return spf[0];
    }

    bool match_addresses(const std::vector<std::string>& addrs, const term& t) {
        for (const auto& a : addrs) {
            auto ip = parse_ip(a);
            if (ip && in_network(ip_, *ip, ip_.v6 ? t.cidr6 : t.cidr4)) return true;
        }
        return false;
    }

    spf_query addr_type() const { return ip_.v6 ? spf_query::aaaa : spf_query::a; }

    std::string reverse_name() const {
        std::string n;
        if (!ip_.v6) {
            for (int i = 3; i >= 0; --i) n += std::to_string(ip_.b[static_cast<std::size_t>(i)]) + ".";
            return n + "in-addr.arpa";
        }
        static const char* hex = "0123456789abcdef";
        for (int i = 15; i >= 0; --i) {
            unsigned char b = ip_.b[static_cast<std::size_t>(i)];
            n += hex[b & 0xf];
            n += '.';
            n += hex[b >> 4];
            n += '.';
        }
        return n + "ip6.arpa";
    }

    // §5.5: the validated names of the client (forward lookup gives the client's address back).
    std::vector<std::string> validated_names(bool count_voids) {
        spf_dns_reply ptr;
        try {
            ptr = ask(reverse_name(), spf_query::ptr, count_voids);
        } catch (const spf_abort& e) {
            if (e.result == spf_result::temperror) return {}; // §5.5: a DNS error: no match
            throw;
        }
        std::vector<std::string> out;
        std::size_t n = std::min(ptr.records.size(), limits_.max_ptr_names);
        term any;
        for (std::size_t i = 0; i < n; ++i) {
            std::string name = lower(strip_dot(ptr.records[i]));
            spf_dns_reply a;
            try {
                a = ask(name, addr_type(), count_voids);
            } catch (const spf_abort& e) {
                if (e.result == spf_result::temperror) continue; // §5.5: skip that name
                throw;
            }
            if (match_addresses(a.records, any)) out.push_back(name);
        }
        return out;
    }

    std::string macro_value(char letter, const std::string& domain) {
        switch (letter) {
        case 's': return sender_;
        case 'l': return local_;
        case 'o': return sender_domain_;
        case 'd': return domain;
        case 'h': return rq_.helo;
        case 'r': return rq_.receiver;
        case 't': return std::to_string(rq_.now);
        case 'v': return ip_.v6 ? "ip6" : "in-addr";
        case 'c':
        case 'i': {
            char buf[INET6_ADDRSTRLEN] = {};
            if (!ip_.v6 || letter == 'c') {
                inet_ntop(ip_.v6 ? AF_INET6 : AF_INET, ip_.b.data(), buf, sizeof buf);
                return buf;
            }
            std::string n; // §7.3: IPv6 "i" is dot-separated nibbles
            static const char* hex = "0123456789abcdef";
            for (unsigned char b : ip_.b) {
                if (!n.empty()) n += '.';
                n += hex[b >> 4];
                n += '.';
                n += hex[b & 0xf];
            }
            return n;
        }
        case 'p': {
            // §7.3: a validated name, preferring <domain> or a subdomain of it; "unknown".
            if (!p_) {
                auto names = validated_names(false);
                p_ = "unknown";
                for (const auto& n : names)
                    if (n == domain || (n.size() > domain.size() &&
                                        n.compare(n.size() - domain.size(), domain.size(), domain) == 0 &&
                                        n[n.size() - domain.size() - 1] == '.')) {
                        p_ = n;
                        break;
                    }
                if (*p_ == "unknown" && !names.empty()) p_ = names.front();
            }
            return *p_;
        }
        default: return {};
        }
    }

    std::string expand(std::string_view spec, const std::string& domain, bool exp_text) {
        std::string out;
        for (const auto& m : parse_macro_string(spec, exp_text)) {
            if (m.literal) {
                out += m.text;
                continue;
            }
            std::string v = macro_value(m.letter, domain);
            // §7.3: split on the delimiters, reverse, keep the right-most N, join with dots.
            std::string delims = m.delimiters.empty() ? "." : m.delimiters;
            std::vector<std::string> parts(1);
            for (char c : v) {
                if (delims.find(c) != std::string::npos) parts.emplace_back();
                else parts.back() += c;
            }
            if (m.reverse) std::reverse(parts.begin(), parts.end());
            if (m.digits > 0 && static_cast<std::size_t>(m.digits) < parts.size())
                parts.erase(parts.begin(), parts.end() - m.digits);
            std::string joined;
            for (std::size_t i = 0; i < parts.size(); ++i) {
                if (i) joined += '.';
                joined += parts[i];
            }
            if (m.url_escape) {
                std::string e;
                static const char* hex = "0123456789ABCDEF";
                for (unsigned char c : joined) {
                    if (is_unreserved(static_cast<char>(c))) e += static_cast<char>(c);
                    else { e += '%'; e += hex[c >> 4]; e += hex[c & 0xf]; }
                }
                joined = e;
            }
            out += joined;
        }
        return out;
    }

    std::string expand_domain(std::string_view spec, const std::string& domain) {
        std::string d = strip_dot(expand(spec, domain, false));
        // §7.3: longer than 253 octets: drop labels from the left until it fits.
        while (d.size() > 253) {
            auto dot = d.find('.');
            if (dot == std::string::npos) break;
            d.erase(0, dot + 1);
        }
        return d;
    }

    void explain(const std::string& spec, const std::string& domain) {
        try {
            std::string target = expand_domain(spec, domain);
            auto r = ask(target, spf_query::txt, false);
            if (r.records.size() == 1) explanation = expand(r.records[0], domain, true);
        } catch (const spf_abort&) {
            // §6.2: any problem with the explanation: no explanation, the result stands.
        }
    }

    const spf_lookup& lookup_;
    const spf_limits& limits_;
    const spf_request& rq_;
    ip_addr ip_;
    std::string sender_, local_, sender_domain_;
    std::optional<std::string> p_;
};

spf_result evaluation::run(const std::string& domain, spf_outcome& out, int depth) {
    auto text = find_record(domain);
    if (!text) return spf_result::none;
    record rec = parse_record(*text);
    for (const auto& t : rec.terms) {
        bool match = false;
        switch (t.kind) {
        case mech_kind::all: match = true; break;
        case mech_kind::include: {
            count_term();
            std::string target = expand_domain(t.domain, domain);
            // §5.2: pass matches; fail, softfail, neutral do not; none is permerror.
            spf_result r = run(target, out, depth + 1);
            if (r == spf_result::none) perm("included domain " + target + " has no SPF record");
            match = r == spf_result::pass;
            break;
        }
        case mech_kind::a: {
            count_term();
            std::string target = t.domain.empty() ? domain : expand_domain(t.domain, domain);
            match = match_addresses(ask(target, addr_type()).records, t);
            break;
        }
        case mech_kind::mx: {
            count_term();
            std::string target = t.domain.empty() ? domain : expand_domain(t.domain, domain);
            auto mx = ask(target, spf_query::mx);
            // §4.6.4: more than 10 MX names is permerror.
            if (mx.records.size() > limits_.max_mx_names)
                perm("more than " + std::to_string(limits_.max_mx_names) + " MX names at " +
                     target);
            for (const auto& host : mx.records) {
                if (strip_dot(host).empty()) continue; // null MX: no address
                if (match_addresses(ask(host, addr_type()).records, t)) {
                    match = true;
                    break;
                }
            }
            break;
        }
        case mech_kind::ptr: {
            count_term();
            std::string target =
                lower(t.domain.empty() ? domain : expand_domain(t.domain, domain));
            for (const auto& n : validated_names(true))
                if (n == target || (n.size() > target.size() &&
                                    n.compare(n.size() - target.size(), target.size(), target) == 0 &&
                                    n[n.size() - target.size() - 1] == '.')) {
                    match = true;
                    break;
                }
            break;
        }
        case mech_kind::ip4:
        case mech_kind::ip6: match = in_network(ip_, t.net, t.net.v6 ? t.cidr6 : t.cidr4); break;
        case mech_kind::exists: {
            count_term();
            std::string target = expand_domain(t.domain, domain);
            match = !ask(target, spf_query::a).records.empty(); // §5.7: always an A query
            break;
        }
        }
        if (match) {
            if (depth == 0) matched = t.text;
            if (t.qualifier == spf_result::fail && rec.exp && depth == 0) explain(*rec.exp, domain);
            return t.qualifier;
        }
    }
    if (rec.redirect) {
        // §6.1: evaluated only when no mechanism matched; exp= of this record is dropped.
        count_term();
        std::string target = expand_domain(*rec.redirect, domain);
        if (depth == 0) matched = "redirect=" + target;
        spf_result r = run(target, out, depth);
        if (r == spf_result::none) perm("redirect target " + target + " has no SPF record");
        return r;
    }
    if (depth == 0) matched = "default";
    return spf_result::neutral; // §4.7
}

} // namespace

spf_checker::spf_checker(spf_lookup lookup, spf_limits limits)
    : lookup_(std::move(lookup)), limits_(limits) {}

spf_outcome spf_checker::check_host(const spf_request& rq, std::string_view domain_in,
                                    std::string_view sender) const {
    spf_outcome out;
    std::string domain = lower(strip_dot(domain_in));
    out.domain = domain;
    out.sender = std::string(sender);
    auto ip = parse_ip(rq.ip);
    if (!ip) {
        out.result = spf_result::permerror;
        out.problem = "client address not understood: " + rq.ip;
        return out;
    }
    // §4.3: a malformed or single-label domain: none.
    if (!plausible_name(domain) || domain.find('.') == std::string::npos) {
        out.result = spf_result::none;
        out.problem = "not a domain to check";
        return out;
    }
    evaluation ev(lookup_, limits_, rq, *ip, std::string(sender));
    try {
        out.result = ev.run(domain, out, 0);
        out.mechanism = ev.matched;
        if (out.result == spf_result::fail) out.explanation = ev.explanation;
    } catch (const spf_abort& e) {
        out.result = e.result;
        out.problem = e.why;
    }
    out.dns_terms = ev.dns_terms;
    out.void_lookups = ev.voids;
    return out;
}

spf_outcome spf_checker::check_mail_from(const spf_request& rq) const {
    std::string sender = rq.mail_from.empty() ? "postmaster@" + rq.helo : rq.mail_from;
    auto at = sender.rfind('@');
    std::string domain = at == std::string::npos ? sender : sender.substr(at + 1);
    return check_host(rq, domain, sender);
}

spf_outcome spf_checker::check_helo(const spf_request& rq) const {
    if (rq.helo.empty() || rq.helo.front() == '[') {
        spf_outcome out;
        out.domain = rq.helo;
        out.problem = "HELO is not a domain";
        return out;
    }
    return check_host(rq, rq.helo, "postmaster@" + rq.helo);
}

} // namespace cartero::mailauth
