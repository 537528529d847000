// webui/totp.cpp — HOTP/TOTP with OpenSSL's HMAC-SHA1, base32.
#include "webui/totp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace cartero::webui {

namespace {
constexpr char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
}

std::string base32_encode(std::string_view bytes) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out += b32[(acc >> bits) & 0x1f];
        }
    }
    if (bits > 0) out += b32[(acc << (5 - bits)) & 0x1f];
    return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = (c >= 'A' && c <= 'Z') ? c - 'A' : (c >= '2' && c <= '7') ? c - '2' + 26 : -1;
        if (v < 0) return std::nullopt;
        acc = (acc << 5) | static_cast<std::uint32_t>(v);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

std::string hotp(std::string_view key, std::uint64_t counter, int digits) {
    unsigned char msg[8];
    for (int i = 7; i >= 0; --i) {
        msg[i] = static_cast<unsigned char>(counter & 0xff);
        counter >>= 8;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), msg, sizeof msg, md, &len))
        throw std::runtime_error("HMAC-SHA1 failed");
    // RFC 4226 §5.4 dynamic truncation.
    const int off = md[len - 1] & 0x0f;
    const std::uint32_t bin = (static_cast<std::uint32_t>(md[off] & 0x7f) << 24) |
                              (static_cast<std::uint32_t>(md[off + 1]) << 16) |
                              (static_cast<std::uint32_t>(md[off + 2]) << 8) | md[off + 3];
    std::uint32_t mod = 1;
    for (int i = 0; i < digits; ++i) mod *= 10;
    std::string code = std::to_string(bin % mod);
    return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

std::string totp_at(std::string_view key, std::int64_t unix_time, int digits) {
    return hotp(key, static_cast<std::uint64_t>(unix_time / 30), digits);
}

bool totp_verify(std::string_view base32_secret, std::string_view code, std::int64_t unix_time) {
    auto key = base32_decode(base32_secret);
    if (!key || key->empty() || code.size() != 6) return false;
    for (char c : code)
        if (c < '0' || c > '9') return false;
    bool ok = false;
    for (int d = -1; d <= 1; ++d) {
        const auto want = totp_at(*key, unix_time + d * 30);
        ok |= CRYPTO_memcmp(want.data(), code.data(), 6) == 0;
    }
    return ok;
}

std::string new_totp_secret() {
    unsigned char raw[20];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness available");
    return base32_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

} // namespace cartero::webui
