// core/password.cpp — yescrypt hashing and {SCHEME} crypt(3) verification over libxcrypt.
#include "core/password.hpp"

#include <crypt.h>
#include <openssl/crypto.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace cartero::password {
namespace {

// crypt_data is ~32 KiB: keep it off the stack of session coroutines, and wipe it after use
// because it holds intermediate state derived from the password.
struct crypt_state {
    std::unique_ptr<crypt_data> data = std::make_unique<crypt_data>();
    crypt_state() { std::memset(data.get(), 0, sizeof(crypt_data)); }
    ~crypt_state() { OPENSSL_cleanse(data.get(), sizeof(crypt_data)); }
    crypt_state(const crypt_state&) = delete;
    crypt_state& operator=(const crypt_state&) = delete;
};

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i];
        if (a >= 'a' && a <= 'z') a = static_cast<char>(a - 'a' + 'A');
        if (a != prefix[i]) return false;
    }
    return true;
}

bool is_bcrypt(std::string_view h) {
    return h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$");
}

// The crypt(3) part of a stored hash when its scheme and prefix are ones we accept; empty
// otherwise.
std::string_view accepted_crypt_string(std::string_view stored) {
    struct scheme {
        std::string_view tag;
        bool (*prefix_ok)(std::string_view);
    };
    static constexpr scheme schemes[] = {
        {"{CRYPT}",
         [](std::string_view h) {
             return h.starts_with("$y$") || h.starts_with("$gy$") || h.starts_with("$7$") ||
                    h.starts_with("$6$") || h.starts_with("$5$") || is_bcrypt(h);
         }},
        {"{SHA512-CRYPT}", [](std::string_view h) { return h.starts_with("$6$"); }},
        {"{SHA256-CRYPT}", [](std::string_view h) { return h.starts_with("$5$"); }},
        {"{BLF-CRYPT}", is_bcrypt},
    };
    for (const auto& s : schemes) {
        if (!starts_with_ci(stored, s.tag)) continue;
        std::string_view h = stored.substr(s.tag.size());
        return s.prefix_ok(h) ? h : std::string_view{};
    }
    return {};
}

} // namespace

std::string hash_password(std::string_view plain) {
    if (plain.empty()) throw std::invalid_argument("the password is empty");
    if (plain.find('\0') != std::string_view::npos)
        throw std::invalid_argument("the password contains a NUL character");
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // Count 0 = libxcrypt's default yescrypt cost; null rbytes = salt from getrandom(2).
    if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting) || setting[0] == '*')
        throw std::runtime_error("cannot generate a password salt (crypt_gensalt_rn failed)");
    crypt_state st;
    std::string phrase(plain);
    const char* h = crypt_rn(phrase.c_str(), setting, st.data.get(), sizeof(crypt_data));
    OPENSSL_cleanse(phrase.data(), phrase.size());
    if (!h || h[0] == '*') throw std::runtime_error("cannot hash the password (crypt_rn failed)");
    return std::string("{CRYPT}") + h;
}

bool verify_password(std::string_view plain, std::string_view stored) noexcept {
    try {
        std::string_view want = accepted_crypt_string(stored);
        if (want.empty() || plain.find('\0') != std::string_view::npos) return false;
        if (want.find('\0') != std::string_view::npos) return false;
        std::string setting(want);
        std::string phrase(plain);
        crypt_state st;
        const char* got = crypt_rn(phrase.c_str(), setting.c_str(), st.data.get(),
                                   sizeof(crypt_data));
        OPENSSL_cleanse(phrase.data(), phrase.size());
        if (!got || got[0] == '*') return false;
        std::size_t n = std::strlen(got);
        // The length of a hash is not secret; its bytes are compared in constant time.
        return n == want.size() && CRYPTO_memcmp(got, want.data(), n) == 0;
    } catch (...) {
        return false; // allocation failure: refuse rather than throw into a session
    }
}

} // namespace cartero::password
