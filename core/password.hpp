// core/password.hpp — password hashing and verification in schemes Dovecot 2.3 also verifies.
#pragma once

#include <string>
#include <string_view>

namespace cartero::password {

// Hashes with yescrypt (libxcrypt, default cost, fresh salt from the OS) and returns the form
// stored in config.db and read by Dovecot: "{CRYPT}$y$...". Throws std::invalid_argument for an
// empty password or one containing NUL (crypt(3) would silently truncate it), and
// std::runtime_error if libxcrypt fails (no randomness, out of memory).
std::string hash_password(std::string_view plain);

// True when `plain` matches `stored`. `stored` is "{SCHEME}<crypt(3) string>" with SCHEME one of
// CRYPT (yescrypt $y$, gost-yescrypt $gy$, scrypt $7$, SHA-512 $6$, SHA-256 $5$, bcrypt $2[aby]$),
// SHA512-CRYPT ($6$), SHA256-CRYPT ($5$) or BLF-CRYPT ($2[aby]$); scheme names are
// case-insensitive as in Dovecot. Anything else (no scheme, DES or MD5 crypt, a mismatched
// prefix, malformed hashes) is false. The hash comparison is constant-time. Never throws.
bool verify_password(std::string_view plain, std::string_view stored) noexcept;

} // namespace cartero::password
