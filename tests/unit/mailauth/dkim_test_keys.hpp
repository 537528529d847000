// tests/unit/mailauth/dkim_test_keys.hpp — keys made once per test run, a fake key lookup, and a
// hand signer that writes any DKIM-Signature tags (l=, i=, c=simple, ...) the signer never emits.
#pragma once

#include "core/dkim_key.hpp"
#include "daemon/mailauth/dkim_canon.hpp"
#include "daemon/mailauth/dkim_crypto.hpp"
#include "daemon/mailauth/dkim_tags.hpp"
#include "daemon/mailauth/dkim_verifier.hpp"

#include <map>
#include <string>

namespace cartero::test {

inline const dkim::generated_key& test_key(dkim::key_algorithm alg) {
    static const dkim::generated_key rsa = dkim::generate_key(dkim::key_algorithm::rsa);
    static const dkim::generated_key ed = dkim::generate_key(dkim::key_algorithm::ed25519);
    return alg == dkim::key_algorithm::rsa ? rsa : ed;
}

// A DNS stand-in: name → TXT records; everything else is NXDOMAIN.
struct fake_dns {
    std::map<std::string, std::vector<std::string>> records;
    bool temporary = false;
    int lookups = 0;
    mailauth::key_lookup lookup() {
        return [this](std::string_view name) {
            ++lookups;
            mailauth::key_lookup_result r;
            if (temporary) {
                r.status = mailauth::key_lookup_result::status::temporary;
                return r;
            }
            auto it = records.find(std::string(name));
            if (it == records.end()) return r;
            r.status = mailauth::key_lookup_result::status::ok;
            r.txt = it->second;
            return r;
        };
    }
};

// Signs `message` with a DKIM-Signature carrying `tags` (everything but bh= and b=, which are
// computed: the body hash honours c= and l= from `tags`). Returns the field + message.
inline std::string hand_sign(const std::string& message, const std::string& tags,
                             const std::string& private_pem, dkim::key_algorithm alg) {
    using namespace mailauth;
    auto t = tag_list::parse(tags);
    canon hc = canon::simple, bc = canon::simple;
    if (auto c = t->find("c")) {
        auto parts = split_trimmed(*c, '/');
        hc = parts[0] == "relaxed" ? canon::relaxed : canon::simple;
        bc = parts.size() > 1 && parts[1] == "relaxed" ? canon::relaxed : canon::simple;
    }
    std::optional<std::uint64_t> l;
    if (auto lv = t->find("l")) l = std::stoull(*lv);
    auto m = split_message(message);
    auto bh = hash_body(m.body, bc, l);
    std::string field =
        "DKIM-Signature: " + tags + "; bh=" + base64_encode(bh.digest.data(), 32) + ";\r\n b=";
    std::vector<std::string> names;
    for (auto& n : split_trimmed(*t->find("h"), ':'))
        names.push_back(lower(n));
    sha256 h;
    hash_signed_headers(h, m, names, hc);
    std::string self;
    canon_header(self, field, hc);
    self.resize(self.size() - 2);
    h.update(self);
    auto key = load_private_key(private_pem, alg);
    std::string sig = sign_digest(key, alg, h.finish());
    return field + base64_encode(reinterpret_cast<const unsigned char*>(sig.data()), sig.size()) +
           "\r\n" + message;
}

} // namespace cartero::test
