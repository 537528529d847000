// daemon/mailauth/dkim_verifier.cpp — checks each DKIM-Signature: tags, key record, body hash,
// header signature (RFC 6376 §6.1), in that order, stopping at the first failure.
#include "daemon/mailauth/dkim_verifier.hpp"

#include "daemon/mailauth/dkim_canon.hpp"
#include "daemon/mailauth/dkim_crypto.hpp"
#include "daemon/mailauth/dkim_tags.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace cartero::mailauth {
namespace {

// A verdict that ends the checks of one signature.
struct verdict {
    dkim_status status;
    dkim_reason reason;
    std::string detail;
};

verdict fail(dkim_reason r, std::string detail) {
    return {dkim_status::fail, r, std::move(detail)};
}
verdict permerror(dkim_reason r, std::string detail) {
    return {dkim_status::permerror, r, std::move(detail)};
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal tag value; values past the type's range saturate (only comparisons use them).
std::optional<std::uint64_t> number(const std::string* v, std::size_t max_digits) {
    if (!v || !all_digits(*v) || v->size() > max_digits) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : *v) {
        auto d = static_cast<std::uint64_t>(c - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    return n;
}

bool valid_domain(std::string_view d) {
    if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.' ||
        d.find("..") != std::string_view::npos)
        return false;
    return std::all_of(d.begin(), d.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    });
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

std::optional<canon> canon_of(std::string_view s) {
    if (s == "simple") return canon::simple;
    if (s == "relaxed") return canon::relaxed;
    return std::nullopt;
}

// The state of one signature as the checks proceed.
struct signature {
    const header_field* field = nullptr;
    tag_list tags;
    dkim::key_algorithm alg = dkim::key_algorithm::rsa;
    canon header_canon = canon::simple, body_canon = canon::simple;
    std::vector<std::string> h;
    std::optional<std::uint64_t> length;
    std::string b, bh; // decoded
    std::string identity_domain;
};

class checker {
  public:
    checker(const message_view& m, const key_lookup& lookup, const verifier_options& o,
            std::int64_t now)
        : m_(m), lookup_(lookup), options_(o), now_(now) {}

    dkim_result check(const header_field& field, std::size_t index) {
        dkim_result r;
        r.index = index;
        signature s;
        s.field = &field;
        verdict v = run(s, r);
        r.status = v.status;
        r.reason = v.reason;
        r.detail = v.detail;
        return r;
    }

  private:
    verdict run(signature& s, dkim_result& r) {
        auto tags = tag_list::parse(s.field->value());
        if (!tags) return fail(dkim_reason::syntax, "malformed tag list");
        s.tags = std::move(*tags);
        const tag_list& t = s.tags;
        auto get = [&](const char* n) { return t.find(n); };

        // What the result reports comes first, so that even a failed signature names its d=.
        if (auto d = get("d")) r.domain = lower(*d);
        if (auto sel = get("s")) r.selector = lower(*sel);
        if (auto a = get("a")) r.algorithm = *a;
        if (auto i = get("i"))
            r.identity = *i;
        else if (!r.domain.empty())
            r.identity = "@" + r.domain;
        if (auto b = get("b")) r.b_prefix = strip_fws(*b).substr(0, 12);

        // RFC 6376 §6.1.1: required tags.
        for (const char* n : {"v", "a", "b", "bh", "d", "h", "s"})
            if (!get(n)) return fail(dkim_reason::missing_tag, std::string("no ") + n + "= tag");
        if (*get("v") != "1") return fail(dkim_reason::syntax, "v= is not 1");

        if (r.algorithm == "rsa-sha256")
            s.alg = dkim::key_algorithm::rsa;
        else if (r.algorithm == "ed25519-sha256")
            s.alg = dkim::key_algorithm::ed25519;
        else // RFC 8301 §3.1: rsa-sha1 is not verified any more; unknown ones cannot be
            return {dkim_status::neutral, dkim_reason::unsupported_algorithm,
                    "unsupported algorithm a=" + r.algorithm};

        if (auto c = get("c")) {
            auto parts = split_trimmed(*c, '/');
            auto hc = canon_of(parts[0]);
            auto bc = parts.size() == 2 ? canon_of(parts[1]) : std::optional<canon>(canon::simple);
            if (parts.size() > 2 || !hc || !bc) return fail(dkim_reason::syntax, "bad c= value");
            s.header_canon = *hc;
            s.body_canon = *bc;
        }

        if (!valid_domain(r.domain)) return fail(dkim_reason::syntax, "bad d= value");
        if (r.selector.empty()) return fail(dkim_reason::syntax, "empty s= value");
        for (auto& label : split_trimmed(r.selector, '.'))
            if (label.empty()) return fail(dkim_reason::syntax, "bad s= value");

        // RFC 6376 §3.5 i=: the domain of the AUID is d= or a subdomain of it.
        auto at = r.identity.rfind('@');
        if (at == std::string::npos) return fail(dkim_reason::syntax, "i= has no '@'");
        s.identity_domain = lower(r.identity.substr(at + 1));
        if (s.identity_domain != r.domain && !(s.identity_domain.size() > r.domain.size() &&
                                               s.identity_domain.ends_with("." + r.domain)))
            return fail(dkim_reason::identity_mismatch, "i= is not in d=" + r.domain);

        for (auto& n : split_trimmed(*get("h"), ':')) {
            if (n.empty()) return fail(dkim_reason::syntax, "empty name in h=");
            s.h.push_back(lower(n));
        }
        // RFC 6376 §5.4: From MUST be signed.
        auto signed_from = static_cast<std::size_t>(std::count(s.h.begin(), s.h.end(), "from"));
        if (signed_from == 0) return fail(dkim_reason::from_not_signed, "From is not in h=");
        auto from_fields = static_cast<std::size_t>(
            std::count_if(m_.headers.begin(), m_.headers.end(),
                          [](const header_field& f) { return lower(f.name) == "from"; }));
        // RFC 6376 §8.15: a From the signature does not cover could be the one a reader sees.
        if (from_fields > signed_from)
            return fail(dkim_reason::unsigned_from,
                        "the message has a From field the signature does not cover");

        if (auto l = get("l")) {
            s.length = number(l, 76);
            if (!s.length) return fail(dkim_reason::syntax, "bad l= value");
            r.uses_length_limit = true;
            r.body_length = *s.length;
        }
        if (auto q = get("q")) {
            auto methods = split_trimmed(*q, ':');
            if (!contains(methods, "dns/txt"))
                return fail(dkim_reason::syntax, "q= without dns/txt");
        }
        std::optional<std::uint64_t> ts, xs;
        if (auto tv = get("t")) {
            ts = number(tv, 12);
            if (!ts) return fail(dkim_reason::syntax, "bad t= value");
        }
        if (auto xv = get("x")) {
            xs = number(xv, 12);
            if (!xs) return fail(dkim_reason::syntax, "bad x= value");
            // RFC 6376 §3.5 x=: MUST be greater than t=.
            if (ts && *xs < *ts) return fail(dkim_reason::syntax, "x= is before t=");
            if (now_ >= 0 && *xs < static_cast<std::uint64_t>(now_))
                return fail(dkim_reason::expired, "the signature expired (x=" + *xv + ")");
        }
        auto b = base64_decode(*get("b"));
        auto bh = base64_decode(*get("bh"));
        if (!b || b->empty()) return fail(dkim_reason::syntax, "bad b= value");
        if (!bh || bh->empty()) return fail(dkim_reason::syntax, "bad bh= value");
        s.b = std::move(*b);
        s.bh = std::move(*bh);

        // RFC 6376 §6.1.2: the key.
        pkey_ptr key;
        if (auto v = key_for(s, r, key); v.reason != dkim_reason::none) return v;

        // RFC 6376 §6.1.3: body hash, then the header hash and signature.
        const body_hash& got = body(s.body_canon, s.length);
        if (std::string_view(reinterpret_cast<const char*>(got.digest.data()), got.digest.size()) !=
            s.bh)
            return fail(dkim_reason::body_hash_mismatch, "body hash mismatch");

        sha256 hh;
        hash_signed_headers(hh, m_, s.h, s.header_canon);
        std::string self;
        canon_header(self, strip_b_value(s.field->raw), s.header_canon);
        self.resize(self.size() - 2); // hashed without its CRLF (RFC 6376 §3.7)
        hh.update(self);
        if (!verify_digest(key, s.alg, hh.finish(), s.b))
            return fail(dkim_reason::signature_mismatch, "signature does not verify");
        return {dkim_status::pass, dkim_reason::none, "good signature"};
    }

    verdict key_for(const signature& s, dkim_result& r, pkey_ptr& key) {
        std::string name = r.selector + "._domainkey." + r.domain;
        key_lookup_result found = lookup_(name);
        if (found.status == key_lookup_result::status::temporary)
            return {dkim_status::temperror, dkim_reason::dns_temporary,
                    "key lookup for " + name + " failed temporarily"};
        if (found.status == key_lookup_result::status::nxdomain || found.txt.empty())
            return permerror(dkim_reason::no_key, "no key record at " + name);

        // RFC 6376 §3.6.2.2: several records are possible; take the first that is a DKIM key.
        std::optional<tag_list> rec;
        for (const auto& txt : found.txt) {
            auto t = tag_list::parse(txt);
            if (!t || !t->has("p")) continue;
            if (auto v = t->find("v"); v && *v != "DKIM1") continue;
            rec = std::move(t);
            break;
        }
        if (!rec) return permerror(dkim_reason::bad_key_record, "no valid key record at " + name);

        std::string p = strip_fws(*rec->find("p"));
        if (p.empty()) return fail(dkim_reason::key_revoked, "the key at " + name + " is revoked");
        std::string k = rec->has("k") ? *rec->find("k") : std::string("rsa");
        std::string want = s.alg == dkim::key_algorithm::rsa ? "rsa" : "ed25519";
        if (k != want)
            return fail(dkim_reason::key_type_mismatch,
                        "the key at " + name + " is k=" + k + ", the signature a=" + r.algorithm);
        if (auto h = rec->find("h"); h && !contains(split_trimmed(*h, ':'), "sha256"))
            return fail(dkim_reason::key_hash_mismatch,
                        "the key at " + name + " does not allow sha256 (h=" + *h + ")");
        if (auto sv = rec->find("s")) {
            auto services = split_trimmed(*sv, ':');
            if (!contains(services, "*") && !contains(services, "email"))
                return permerror(dkim_reason::bad_key_record,
                                 "the key at " + name + " is not for email (s=" + *sv + ")");
        }
        if (auto flags = rec->find("t")) {
            auto f = split_trimmed(*flags, ':');
            r.testing = contains(f, "y");
            if (contains(f, "s") && s.identity_domain != r.domain)
                return fail(dkim_reason::key_strict_subdomain,
                            "the key at " + name + " has t=s and i= is a subdomain of d=");
        }
        auto der = base64_decode(p);
        if (der) key = load_public_key(*der, s.alg);
        if (!key) return permerror(dkim_reason::bad_key_record, "p= at " + name + " is not a key");
        if (s.alg == dkim::key_algorithm::rsa && key_bits(key) < options_.min_rsa_bits)
            return permerror(dkim_reason::key_too_short,
                             "the key at " + name + " has " + std::to_string(key_bits(key)) +
                                 " bits, fewer than " + std::to_string(options_.min_rsa_bits));
        return {dkim_status::pass, dkim_reason::none, {}};
    }

    // Signatures with the same c= body and l= share one body pass.
    const body_hash& body(canon c, std::optional<std::uint64_t> length) {
        auto k = std::make_pair(static_cast<int>(c), length.value_or(UINT64_MAX));
        auto it = bodies_.find(k);
        if (it == bodies_.end()) it = bodies_.emplace(k, hash_body(m_.body, c, length)).first;
        return it->second;
    }

    const message_view& m_;
    const key_lookup& lookup_;
    const verifier_options& options_;
    std::int64_t now_;
    std::map<std::pair<int, std::uint64_t>, body_hash> bodies_;
};

} // namespace

std::string_view to_string(dkim_status s) {
    switch (s) {
    case dkim_status::pass:
        return "pass";
    case dkim_status::fail:
        return "fail";
    case dkim_status::neutral:
        return "neutral";
    case dkim_status::temperror:
        return "temperror";
    case dkim_status::permerror:
        return "permerror";
    }
    return "permerror";
}

std::string_view to_string(dkim_reason r) {
    switch (r) {
    case dkim_reason::none:
        return "none";
    case dkim_reason::body_hash_mismatch:
        return "body hash mismatch";
    case dkim_reason::signature_mismatch:
        return "signature mismatch";
    case dkim_reason::key_revoked:
        return "key revoked";
    case dkim_reason::key_type_mismatch:
        return "key type mismatch";
    case dkim_reason::key_hash_mismatch:
        return "key hash algorithm mismatch";
    case dkim_reason::key_strict_subdomain:
        return "key forbids subdomain identity";
    case dkim_reason::expired:
        return "signature expired";
    case dkim_reason::missing_tag:
        return "missing required tag";
    case dkim_reason::from_not_signed:
        return "From not signed";
    case dkim_reason::unsigned_from:
        return "unsigned From added";
    case dkim_reason::identity_mismatch:
        return "identity not in signing domain";
    case dkim_reason::syntax:
        return "syntax error";
    case dkim_reason::unsupported_algorithm:
        return "unsupported algorithm";
    case dkim_reason::too_many_signatures:
        return "too many signatures";
    case dkim_reason::no_key:
        return "no key";
    case dkim_reason::bad_key_record:
        return "bad key record";
    case dkim_reason::key_too_short:
        return "key too short";
    case dkim_reason::dns_temporary:
        return "key lookup failed temporarily";
    }
    return "unknown";
}

verifier::verifier(key_lookup lookup, verifier_options options)
    : lookup_(std::move(lookup)), options_(options) {}

std::vector<dkim_result> verifier::verify(std::string_view message, std::int64_t now) const {
    message_view m = split_message(message);
    checker c(m, lookup_, options_, now);
    std::vector<dkim_result> out;
    for (const auto& f : m.headers) {
        if (lower(f.name) != "dkim-signature") continue;
        std::size_t index = out.size();
        if (index >= options_.max_signatures) {
            dkim_result r;
            r.index = index;
            r.status = dkim_status::neutral;
            r.reason = dkim_reason::too_many_signatures;
            r.detail =
                "not checked: more than " + std::to_string(options_.max_signatures) + " signatures";
            out.push_back(std::move(r));
            continue;
        }
        out.push_back(c.check(f, index));
    }
    return out;
}

} // namespace cartero::mailauth
