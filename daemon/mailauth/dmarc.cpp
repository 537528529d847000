// daemon/mailauth/dmarc.cpp — DMARC record parsing, organisational domain (libpsl), alignment and
// the verdict with the policy to apply.
#include "daemon/mailauth/dmarc.hpp"

#include <libpsl.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace cartero::mailauth {

std::string_view to_string(dmarc_policy p) {
    switch (p) {
    case dmarc_policy::none: return "none";
    case dmarc_policy::quarantine: return "quarantine";
    case dmarc_policy::reject: return "reject";
    }
    return "none";
}

std::string_view to_string(dmarc_status s) {
    switch (s) {
    case dmarc_status::pass: return "pass";
    case dmarc_status::fail: return "fail";
    case dmarc_status::none: return "none";
    case dmarc_status::temperror: return "temperror";
    case dmarc_status::permerror: return "permerror";
    }
    return "permerror";
}

namespace {

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::optional<dmarc_policy> policy_of(std::string_view v) {
    std::string l = lower(v);
    if (l == "none") return dmarc_policy::none;
    if (l == "quarantine") return dmarc_policy::quarantine;
    if (l == "reject") return dmarc_policy::reject;
    return std::nullopt;
}

std::string normal_domain(std::string_view d) {
    std::string s = lower(trim(d));
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

const psl_ctx_t* psl() {
    // The newest of the built-in list and the system file (Debian's publicsuffix package).
    static psl_ctx_t* ctx = psl_latest(nullptr);
    return ctx ? ctx : psl_builtin();
}

} // namespace

std::optional<dmarc_record> parse_dmarc_record(std::string_view txt, std::string* why) {
    auto fail = [&](std::string w) -> std::optional<dmarc_record> {
        if (why) *why = std::move(w);
        return std::nullopt;
    };
    std::vector<std::pair<std::string, std::string>> tags;
    std::size_t i = 0;
    while (i <= txt.size()) {
        auto semi = txt.find(';', i);
        if (semi == std::string_view::npos) semi = txt.size();
        std::string_view spec = trim(txt.substr(i, semi - i));
        i = semi + 1;
        if (spec.empty()) continue;
        auto eq = spec.find('=');
        if (eq == std::string_view::npos) return fail("tag without '=': " + std::string(spec));
        tags.emplace_back(lower(trim(spec.substr(0, eq))), std::string(trim(spec.substr(eq + 1))));
    }
    // §6.4: v=DMARC1 must be the first tag.
    if (tags.empty() || tags[0].first != "v" || tags[0].second != "DMARC1")
        return fail("not a DMARC1 record");
    dmarc_record r;
    bool have_p = false, bad_p = false;
    for (std::size_t k = 1; k < tags.size(); ++k) {
        const auto& [name, value] = tags[k];
        if (name == "p") {
            auto p = policy_of(value);
            if (p) { r.p = *p; have_p = true; } else bad_p = true;
        } else if (name == "sp") {
            r.sp = policy_of(value); // an invalid sp= is ignored: p applies
        } else if (name == "pct") {
            if (value.empty() || value.size() > 3 ||
                !std::all_of(value.begin(), value.end(),
                             [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
                return fail("bad pct=");
            r.pct = std::min(100, std::stoi(value));
        } else if (name == "adkim" || name == "aspf") {
            std::string v = lower(value);
            if (v != "r" && v != "s") return fail("bad " + name + "=");
            (name == "adkim" ? r.adkim_strict : r.aspf_strict) = v == "s";
        } else if (name == "rua" || name == "ruf") {
            auto& list = name == "rua" ? r.rua : r.ruf;
            std::size_t s = 0;
            while (s <= value.size()) {
                auto c = value.find(',', s);
                if (c == std::string::npos) c = value.size();
                auto u = trim(std::string_view(value).substr(s, c - s));
                if (!u.empty()) list.emplace_back(u);
                s = c + 1;
            }
        }
    }
    if (!have_p) {
        // §6.6.3 step 6: no valid p= but a valid rua=: treat as p=none.
        if (!r.rua.empty()) {
            r.p = dmarc_policy::none;
            return r;
        }
        return fail(bad_p ? "bad p=" : "no p=");
    }
    return r;
}

std::string organizational_domain(std::string_view domain) {
    std::string d = normal_domain(domain);
    if (d.empty()) return d;
    const char* reg = psl_registrable_domain(psl(), d.c_str());
    return reg ? std::string(reg) : d;
}

bool aligned(std::string_view a, std::string_view b, bool strict) {
    std::string x = normal_domain(a), y = normal_domain(b);
    if (x.empty() || y.empty()) return false;
    if (strict) return x == y;
    return organizational_domain(x) == organizational_domain(y);
}

namespace {

enum class lookup_state { found, absent, temporary, multiple };

lookup_state discover(const key_lookup& txt, const std::string& domain, dmarc_record& rec) {
    auto r = txt("_dmarc." + domain);
    if (r.status == key_lookup_result::status::temporary) return lookup_state::temporary;
    if (r.status == key_lookup_result::status::nxdomain) return lookup_state::absent;
    std::vector<dmarc_record> found;
    for (const auto& t : r.txt) {
        // §6.6.3 step 3: records that do not start with v=DMARC1 are discarded.
        auto v = trim(t);
        if (v.size() < 8 || lower(v.substr(0, 8)) != "v=dmarc1") continue;
        if (auto p = parse_dmarc_record(t)) found.push_back(*p);
    }
    if (found.size() > 1) return lookup_state::multiple; // step 4: more than one: none
    if (found.empty()) return lookup_state::absent;
    rec = found[0];
    return lookup_state::found;
}

std::uint32_t fnv1a(std::string_view s) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : s) {
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

} // namespace

dmarc_outcome evaluate_dmarc(const dmarc_input& in, const key_lookup& txt) {
    dmarc_outcome out;
    out.from_domain = normal_domain(in.from_domain);
    if (in.from_domains != 1) {
        out.status = in.from_domains == 0 ? dmarc_status::none : dmarc_status::permerror;
        out.problem = in.from_domains == 0 ? "no From domain" : "several From domains";
        return out;
    }
    if (out.from_domain.empty()) {
        out.status = dmarc_status::none;
        out.problem = "no From domain";
        return out;
    }
    const std::string org = organizational_domain(out.from_domain);
    dmarc_record rec;
    auto st = discover(txt, out.from_domain, rec);
    std::string where = out.from_domain;
    if ((st == lookup_state::absent || st == lookup_state::multiple) && org != out.from_domain) {
        st = discover(txt, org, rec);
        where = org;
    }
    if (st == lookup_state::temporary) {
        out.status = dmarc_status::temperror;
        out.problem = "DNS lookup of _dmarc." + where + " failed temporarily";
        return out;
    }
    if (st != lookup_state::found) {
        out.status = dmarc_status::none;
        out.problem = st == lookup_state::multiple ? "several DMARC records" : "no DMARC record";
        return out;
    }
    out.record = rec;
    out.record_domain = where;
    // sp= applies when the policy came from the organisational domain for a subdomain.
    out.requested = (where != out.from_domain && rec.sp) ? *rec.sp : rec.p;

    // §3.1.2: SPF-authenticated identifier aligned with From.
    out.spf_aligned = in.spf == spf_result::pass &&
                      aligned(in.spf_domain, out.from_domain, rec.aspf_strict);
    // §3.1.1: any passing DKIM signature with d= aligned.
    for (const auto& d : in.dkim)
        if (d.status == dkim_status::pass && !d.testing && !d.uses_length_limit &&
            aligned(d.domain, out.from_domain, rec.adkim_strict))
            out.dkim_aligned = true;
    if (out.spf_aligned || out.dkim_aligned) {
        out.status = dmarc_status::pass;
        return out;
    }
    out.status = dmarc_status::fail;
    // §6.6.4: a message outside the pct sample gets the next policy down (reject → quarantine,
    // quarantine → none). The sample is a hash of the message key: the same message, the same
    // answer.
    bool sampled = rec.pct >= 100 ||
                   static_cast<int>(fnv1a(in.message_key) % 100) < rec.pct;
    out.applied = out.requested;
    if (!sampled) {
        if (out.requested == dmarc_policy::reject) out.applied = dmarc_policy::quarantine;
        else if (out.requested == dmarc_policy::quarantine) out.applied = dmarc_policy::none;
    }
    return out;
}

} // namespace cartero::mailauth
