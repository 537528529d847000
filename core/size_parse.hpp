// core/size_parse.hpp — sizes ("500M", binary units as in Dovecot) and durations ("5m") as text.
#pragma once

#include "core/parsed.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cartero::units {

// Parses a size in octets: digits, then optionally one unit K, M, G or T (case-insensitive,
// powers of 1024 as in Dovecot: "500M" = 500 MiB) and an optional "B" ("500MB", "1234B").
// "0" is 0 (callers decide whether that means unlimited). Refused: empty text, spaces, signs,
// fractions, unknown units, values above 2^63-1 (SQLite stores them as signed 64-bit).
parsed<std::uint64_t> parse_size(std::string_view text);

// The shortest exact form that parse_size() reads back: 524288000 → "500M", 1536 → "1536",
// 0 → "0". Listings that mean "unlimited" by 0 print that themselves.
std::string format_size(std::uint64_t bytes);

// Parses a duration: digits then optionally s, m, h or d (case-insensitive); bare digits are
// seconds ("30s", "5m", "1h", "2d", "90"). Refused: empty text, signs, other units, overflow.
parsed<std::chrono::seconds> parse_duration(std::string_view text);

// The largest exact unit: 300 → "5m", 90 → "90s", 86400 → "1d".
std::string format_duration(std::chrono::seconds d);

} // namespace cartero::units
