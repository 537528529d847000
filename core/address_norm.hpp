// core/address_norm.hpp — normalising domain names and mail addresses to the one form Cartero stores.
#pragma once

#include "core/parsed.hpp"

#include <string>
#include <string_view>

namespace cartero::names {

// Normalises a domain name to its lower-case IDNA A-label form (RFC 5890/5891 via libidn2,
// UTS #46 non-transitional, NFC input): "Bücher.Example" → "xn--bcher-kva.example".
// Refused: empty input, a trailing dot, fewer than two labels, a label that is empty, longer
// than 63 octets, not letters/digits/hyphens or starting/ending with a hyphen, a name longer
// than 253 octets, an all-numeric last label (so IPv4 literals are refused), ':' or '[' (IPv6
// literals), and anything libidn2 rejects. Never throws; pure ASCII input skips libidn2.
parsed<std::string> normalize_domain(std::string_view input);

// Normalises a mail address: RFC 5321 §4.1.2 dot-string local part (ASCII atext or UTF-8 per
// RFC 6531, no leading, trailing or doubled dot, at most 64 octets) with ASCII letters
// lower-cased, "@", and normalize_domain() of the domain. Refused with a reason: quoted local
// parts, '%' (percent hack), '!' (bang path), source routes, whitespace, control characters,
// invalid UTF-8, more than one '@', and addresses longer than 254 octets. Never throws.
parsed<std::string> normalize_address(std::string_view input);

// Lower-cases ASCII letters only (UTF-8 bytes untouched), as the local part is normalised.
std::string ascii_lower(std::string_view s);

} // namespace cartero::names
