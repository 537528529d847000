// daemon/mailauth/dkim_canon.hpp — a message's header fields and body, and DKIM canonicalisation
// (RFC 6376 §3.4): simple and relaxed, for header fields and for the body (with l= limits).
#pragma once

#include "daemon/mailauth/dkim_crypto.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::mailauth {

enum class canon { simple, relaxed };

// One header field exactly as it is in the message.
struct header_field {
    std::string_view name; // as written (case kept), without WSP before the ':'
    std::string_view raw;  // the whole field: name, ':', value with its folds; no final CRLF
    std::string_view value() const { return raw.substr(raw.find(':') + 1); }
};

// A message split into header fields and body. The input is the message as SMTP carries it
// after dot-unstuffing: lines end in CRLF. Nothing is copied: views into the input.
struct message_view {
    std::vector<header_field> headers; // top to bottom
    std::string_view body;             // after the empty line; empty when there is none
    bool well_formed = true;           // false: a header line without ':' or with a bad name
};
message_view split_message(std::string_view message);

// RFC 6376 §3.4.1 / §3.4.2: the field canonicalised, with its trailing CRLF, appended to `out`.
// relaxed: name lower-cased, unfolded, WSP runs → one SP, WSP at the value's ends and around
// the ':' removed.
void canon_header(std::string& out, std::string_view raw, canon c);

// The body canonicalised (RFC 6376 §3.4.3 / §3.4.4): simple drops trailing empty lines and
// makes an empty body one CRLF; relaxed also drops WSP at line ends, turns WSP runs into one
// SP, and leaves an empty body empty (errata 1384). A last line without CRLF gets one.
std::string canon_body(std::string_view body, canon c);

struct body_hash {
    sha256_digest digest{};
    std::uint64_t length = 0; // octets of the whole canonical body (before any l= limit)
};
// SHA-256 of the canonical body's first `limit` octets (all when nullopt; RFC 6376 §3.5 l=),
// computed in one pass without building the canonical body.
body_hash hash_body(std::string_view body, canon c, std::optional<std::uint64_t> limit = {});

// RFC 6376 §5.4.2: feeds `h` the canonical form of, for each name in `names` (lower-case, in
// h= order), the bottom-most instance not yet used; a name with no instance left adds nothing
// (which is what makes over-signing work).
void hash_signed_headers(sha256& h, const message_view& m, const std::vector<std::string>& names,
                         canon c);

// RFC 6376 §3.5 (b=) and §3.7: the DKIM-Signature field with the value of its b= tag, including
// the whitespace around it, removed — the form that is hashed.
std::string strip_b_value(std::string_view raw);

bool is_wsp(char c);
std::string lower(std::string_view s);

} // namespace cartero::mailauth
