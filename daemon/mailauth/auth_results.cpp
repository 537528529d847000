// daemon/mailauth/auth_results.cpp — rendering Authentication-Results, stripping forged ones,
// reading the From domains.
#include "daemon/mailauth/auth_results.hpp"

#include "daemon/mailauth/dkim_canon.hpp"

#include <cctype>

namespace cartero::mailauth {

namespace {

std::string ascii_lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// RFC 2045 token characters, plus '@' (RFC 8601 pvalue allows [local-part "@"] domain-name).
bool plain_value(std::string_view v) {
    if (v.empty()) return false;
    for (unsigned char c : v) {
        if (c <= 0x20 || c >= 0x7f) return false;
        if (std::string_view("()<>,;:\\\"/[]?=").find(static_cast<char>(c)) !=
            std::string_view::npos)
            return false;
    }
    return v.find('@') == v.rfind('@');
}

std::string pvalue(std::string_view v) {
    if (plain_value(v)) return std::string(v);
    std::string q = "\"";
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') q += '\\';
        if (c < 0x20 || c == 0x7f) continue; // no control characters in a header
        q += static_cast<char>(c);
    }
    return q + "\"";
}

std::string comment(std::string_view text) {
    std::string c = "(";
    for (unsigned char ch : text) {
        if (ch == '(' || ch == ')' || ch == '\\') c += '\\';
        if (ch < 0x20 || ch == 0x7f) continue;
        c += static_cast<char>(ch);
    }
    return c + ")";
}

std::string_view dkim_word(const dkim_result& d) {
    // A pass on a test-mode key is reported as neutral-free pass with a comment (RFC 6376
    // §3.6.1 says treat as unsigned; the comment tells readers).
    return to_string(d.status);
}

} // namespace

std::string render_auth_results(const auth_results_input& in) {
    std::vector<std::string> parts;
    if (in.spf_mail_from && !in.mail_from.empty()) {
        std::string s = "spf=" + std::string(to_string(in.spf_mail_from->result));
        if (!in.spf_mail_from->problem.empty() &&
            (in.spf_mail_from->result == spf_result::permerror ||
             in.spf_mail_from->result == spf_result::temperror))
            s += " " + comment(in.spf_mail_from->problem);
        s += " smtp.mailfrom=" + pvalue(in.mail_from);
        parts.push_back(std::move(s));
    }
    // The HELO identity (§2.3); for the null sender it is also the MAIL FROM check (§2.4).
    const auto& helo = in.mail_from.empty() && in.spf_mail_from ? in.spf_mail_from : in.spf_helo;
    if (helo && !in.helo.empty()) {
        std::string s = "spf=" + std::string(to_string(helo->result));
        if (!helo->problem.empty() &&
            (helo->result == spf_result::permerror || helo->result == spf_result::temperror))
            s += " " + comment(helo->problem);
        s += " smtp.helo=" + pvalue(in.helo);
        parts.push_back(std::move(s));
    }
    if (in.dkim.empty()) {
        parts.emplace_back("dkim=none");
    }
    for (const auto& d : in.dkim) {
        std::string s = "dkim=" + std::string(dkim_word(d));
        if (d.status != dkim_status::pass && !d.detail.empty()) s += " " + comment(d.detail);
        else if (d.testing) s += " (test mode key)";
        else if (d.uses_length_limit) s += " (l= used: not all of the body is signed)";
        if (!d.domain.empty()) s += " header.d=" + pvalue(d.domain);
        if (!d.identity.empty()) s += " header.i=" + pvalue(d.identity);
        if (!d.selector.empty()) s += " header.s=" + pvalue(d.selector);
        if (!d.algorithm.empty()) s += " header.a=" + pvalue(d.algorithm);
        if (!d.b_prefix.empty()) s += " header.b=" + pvalue(d.b_prefix);
        parts.push_back(std::move(s));
    }
    if (in.dmarc) {
        const auto& m = *in.dmarc;
        std::string s = "dmarc=" + std::string(to_string(m.status));
        if (m.status == dmarc_status::pass || m.status == dmarc_status::fail)
            s += " (p=" + std::string(to_string(m.record.p)) +
                 (m.record.sp ? " sp=" + std::string(to_string(*m.record.sp)) : std::string()) +
                 " dis=" + std::string(to_string(m.applied)) + ")";
        else if (!m.problem.empty() && m.status != dmarc_status::none)
            s += " " + comment(m.problem);
        if (!m.from_domain.empty()) s += " header.from=" + pvalue(m.from_domain);
        parts.push_back(std::move(s));
    }
    std::string out = "Authentication-Results: " + in.authserv_id;
    if (parts.empty()) return out + "; none\r\n"; // RFC 8601 §2.2: no-result
    for (const auto& p : parts) out += ";\r\n\t" + p;
    return out + "\r\n";
}

std::string authserv_id_of(std::string_view v) {
    std::size_t i = 0;
    auto skip_cfws = [&] {
        while (i < v.size()) {
            if (std::isspace(static_cast<unsigned char>(v[i]))) {
                ++i;
            } else if (v[i] == '(') {
                int depth = 0;
                while (i < v.size()) {
                    if (v[i] == '\\') { i += 2; continue; }
                    if (v[i] == '(') ++depth;
                    if (v[i] == ')' && --depth == 0) { ++i; break; }
                    ++i;
                }
            } else {
                break;
            }
        }
    };
    skip_cfws();
    std::string id;
    if (i < v.size() && v[i] == '"') {
        for (++i; i < v.size() && v[i] != '"'; ++i) {
            if (v[i] == '\\' && i + 1 < v.size()) ++i;
            id += v[i];
        }
    } else {
        while (i < v.size() && v[i] != ';' && v[i] != '(' &&
               !std::isspace(static_cast<unsigned char>(v[i])))
            id += v[i++];
    }
    return ascii_lower(id);
}

std::string strip_forged_auth_results(std::string_view message, std::string_view ours,
                                      std::size_t* removed) {
    std::size_t n = 0;
    const std::string id = ascii_lower(ours);
    auto mv = split_message(message);
    std::string out;
    out.reserve(message.size());
    std::size_t pos = 0; // copy everything between removed fields byte for byte
    for (const auto& h : mv.headers) {
        if (ascii_lower(trim(h.name)) != "authentication-results") continue;
        if (authserv_id_of(h.value()) != id) continue;
        auto start = static_cast<std::size_t>(h.raw.data() - message.data());
        auto end = start + h.raw.size();
        if (end + 2 <= message.size() && message.substr(end, 2) == "\r\n") end += 2;
        out.append(message.substr(pos, start - pos));
        pos = end;
        ++n;
    }
    out.append(message.substr(pos));
    if (removed) *removed = n;
    return out;
}

std::vector<std::string> from_domains(std::string_view message) {
    std::vector<std::string> out;
    auto mv = split_message(message);
    for (const auto& h : mv.headers) {
        if (ascii_lower(trim(h.name)) != "from") continue;
        // Drop comments and quoted strings, then split the mailbox-list at commas.
        std::string v;
        std::string_view raw = h.value();
        int depth = 0;
        bool quoted = false;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            char c = raw[i];
            if (c == '\\' && (quoted || depth > 0)) { ++i; continue; }
            if (quoted) { if (c == '"') quoted = false; continue; }
            if (depth > 0) {
                if (c == '(') ++depth;
                else if (c == ')') --depth;
                continue;
            }
            if (c == '"') { quoted = true; continue; }
            if (c == '(') { depth = 1; continue; }
            v += c;
        }
        std::size_t s = 0;
        while (s <= v.size()) {
            auto comma = v.find(',', s);
            if (comma == std::string::npos) comma = v.size();
            std::string_view mbox = trim(std::string_view(v).substr(s, comma - s));
            s = comma + 1;
            if (auto lt = mbox.find('<'); lt != std::string_view::npos) {
                auto gt = mbox.find('>', lt);
                mbox = mbox.substr(lt + 1, gt == std::string_view::npos ? gt : gt - lt - 1);
            }
            auto at = mbox.rfind('@');
            if (at == std::string_view::npos) continue;
            std::string d = ascii_lower(trim(mbox.substr(at + 1)));
            if (!d.empty() && d.back() == '.') d.pop_back();
            if (!d.empty() && d.front() != '[') out.push_back(d);
        }
    }
    return out;
}

} // namespace cartero::mailauth
