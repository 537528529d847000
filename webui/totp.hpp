// webui/totp.hpp — TOTP second factor (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1, 6 digits, 30 s
// steps) and the base32 (RFC 4648 §6) secrets authenticator apps read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cartero::webui {

std::string base32_encode(std::string_view bytes); // no padding
std::optional<std::string> base32_decode(std::string_view text); // upper case, no padding

// RFC 4226 §5.3: the `digits`-digit code for `counter`.
std::string hotp(std::string_view key, std::uint64_t counter, int digits = 6);
// The code for the 30-second step containing `unix_time`.
std::string totp_at(std::string_view key, std::int64_t unix_time, int digits = 6);
// True when `code` is the code for unix_time's step or one step either side (clock drift).
// Compares in constant time. A malformed secret or code is false.
bool totp_verify(std::string_view base32_secret, std::string_view code, std::int64_t unix_time);
// 20 random bytes (160 bits, RFC 4226 §4 recommends it), base32.
std::string new_totp_secret();

} // namespace cartero::webui
