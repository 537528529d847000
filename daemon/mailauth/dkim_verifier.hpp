// daemon/mailauth/dkim_verifier.hpp — DKIM verification (RFC 6376 §6, RFC 8463, RFC 8301) of
// every DKIM-Signature in a message; the key records come from a caller's lookup (no DNS here).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::mailauth {

// What the key lookup for "<s>._domainkey.<d>" found.
struct key_lookup_result {
    enum class status { ok, nxdomain, temporary } status = status::nxdomain;
    // One entry per TXT record, its character-strings already concatenated (RFC 6376 §3.6.2.2).
    std::vector<std::string> txt;
};
using key_lookup = std::function<key_lookup_result(std::string_view name)>;

// RFC 8601 §2.7.1 result names.
enum class dkim_status { pass, fail, neutral, temperror, permerror };

enum class dkim_reason {
    none, // pass
    // fail: the signature was checked and is not good, or the key or signature forbids it
    body_hash_mismatch,   // bh= does not match the (l=-limited) canonical body
    signature_mismatch,   // b= does not verify over the signed header fields
    key_revoked,          // the key record's p= is empty (RFC 6376 §3.6.1)
    key_type_mismatch,    // the key record's k= is not a='s key type
    key_hash_mismatch,    // the key record's h= does not allow sha256
    key_strict_subdomain, // the key record has t=s and i= is in a subdomain of d=
    expired,              // x= is in the past
    missing_tag,          // v=, a=, b=, bh=, d=, h= or s= missing (RFC 6376 §6.1.1)
    from_not_signed,      // h= does not list From (RFC 6376 §5.4)
    unsigned_from,        // the message has more From fields than h= covers (one was added)
    identity_mismatch,    // i= is not d= or a subdomain of it
    syntax,               // a malformed tag list or tag value, v= other than 1, bad c=, x= < t=
    // neutral: not processed
    unsupported_algorithm, // a= other than rsa-sha256 / ed25519-sha256 (RFC 8301 §3.1: no sha1)
    too_many_signatures,   // past verifier_options::max_signatures; not checked
    // permerror: the key record is unusable
    no_key,         // NXDOMAIN, or no record at the name
    bad_key_record, // no record parses: syntax, v= not DKIM1, p= not a key, s= not email
    key_too_short,  // RSA key below the minimum (RFC 8301 §3.2: 1024 bits)
    // temperror
    dns_temporary, // the lookup failed temporarily
};

std::string_view to_string(dkim_status s);
std::string_view to_string(dkim_reason r);

// The verdict on one DKIM-Signature field, with what Authentication-Results needs (RFC 8601
// §2.7.1: header.d, header.i, header.s, header.a, header.b).
struct dkim_result {
    dkim_status status = dkim_status::permerror;
    dkim_reason reason = dkim_reason::none;
    std::string detail;    // one line for people and logs, e.g. "body hash mismatch"
    std::string domain;    // d= (lower-case), empty if absent
    std::string identity;  // i=, or "@" + d= when absent
    std::string selector;  // s=
    std::string algorithm; // a=
    std::string b_prefix;  // the first 12 characters of b= (RFC 6008 header.b)
    // l= was present: only its first body_length octets of the canonical body are covered, so
    // content after them may have been added by anyone. Policy must not count such a pass as
    // covering the whole message.
    bool uses_length_limit = false;
    std::uint64_t body_length = 0;
    bool testing = false;  // the key record has t=y (RFC 6376 §3.6.1: treat as unsigned)
    std::size_t index = 0; // 0 = the top-most DKIM-Signature field
};

struct verifier_options {
    int min_rsa_bits = 1024;        // RFC 8301 §3.2
    std::size_t max_signatures = 8; // more are reported as neutral without being checked
};

class verifier {
  public:
    explicit verifier(key_lookup lookup, verifier_options options = {});

    // One result per DKIM-Signature field, top to bottom (none: the message is unsigned,
    // RFC 8601 "none"). `message` has CRLF line ends; `now` is Unix seconds (for x=).
    // Calls the lookup once per signature that gets as far as needing its key.
    std::vector<dkim_result> verify(std::string_view message, std::int64_t now) const;

  private:
    key_lookup lookup_;
    verifier_options options_;
};

} // namespace cartero::mailauth
