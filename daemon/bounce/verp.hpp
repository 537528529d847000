// daemon/bounce/verp.hpp — VERP return paths (bounces+TOKEN@domain) that link a DSN to its recipient.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cartero::bounce {

// What a VERP token points at: the queue id (16 characters of [0-9A-Z], see
// daemon/queue/queue_id.cpp) and the row id in queue.db's recipients table.
struct verp_ref {
    std::string queue_id;
    std::uint64_t recipient_id = 0;
    bool operator==(const verp_ref&) const = default;
};

// Token = lower(queue id) "-" recipient id (decimal) "-" MAC, where MAC is the first 50 bits of
// HMAC-SHA256(key, "cartero-verp-1" NUL QUEUEID NUL id) in lower-case RFC 4648 base32 (10
// characters). Everything is letters, digits and "-": a dot-atom local part that survives
// case-folding remote MTAs (decoding is case-insensitive). The MAC makes forged tokens fail:
// a DSN cannot mark somebody else's recipient as bounced without the key (2^-50 per guess).
// The key is a per-installation secret (≥ 16 random octets); an empty key throws
// std::invalid_argument when encoding and fails every decode.
std::string verp_token(const verp_ref& ref, std::string_view key);
std::optional<verp_ref> verp_parse_token(std::string_view token, std::string_view key);

// "<prefix>+<token>@<domain>" (default prefix "bounces"), and back. verp_parse_address()
// checks the prefix (case-insensitive) and the MAC; the domain is the caller's to check.
std::string verp_address(const verp_ref& ref, std::string_view key, std::string_view domain,
                         std::string_view prefix = "bounces");
std::optional<verp_ref> verp_parse_address(std::string_view address, std::string_view key,
                                           std::string_view prefix = "bounces");

// The token text of "<prefix>+TOKEN@…" anywhere in `text` (e.g. a Return-Path value), not
// verified. "" when absent.
std::string verp_find_token(std::string_view text, std::string_view prefix = "bounces");

} // namespace cartero::bounce
