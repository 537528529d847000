// daemon/app/verp_key.hpp — the per-installation VERP HMAC key in <state>/verp.key.
#pragma once

#include <filesystem>
#include <string>

namespace cartero::app {

// Reads <state_dir>/verp.key (64 lower-case hex characters = 32 random octets, one line), or
// creates it first (O_EXCL, mode 0600, fsynced) from the OpenSSL CSPRNG. The hex text is the
// key given to bounce::verp_token. Throws std::runtime_error when the file cannot be read or
// written or holds something else (never silently replaced: tokens already sent would fail).
std::string load_or_create_verp_key(const std::filesystem::path& state_dir);

} // namespace cartero::app
