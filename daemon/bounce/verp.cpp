// daemon/bounce/verp.cpp — VERP token encoding with a truncated HMAC-SHA256 (OpenSSL).
#include "daemon/bounce/verp.hpp"

#include "daemon/bounce/message_parts.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace cartero::bounce {

namespace {

constexpr std::size_t mac_chars = 10; // 50 bits

std::string mac(std::string_view upper_queue_id, std::uint64_t id, std::string_view key) {
    std::string msg = "cartero-verp-1";
    msg += '\0';
    msg += upper_queue_id;
    msg += '\0';
    msg += std::to_string(id);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &md_len);
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567"; // RFC 4648 §6
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (unsigned i = 0; i < md_len && out.size() < mac_chars; ++i) {
        acc = (acc << 8) | md[i];
        bits += 8;
        while (bits >= 5 && out.size() < mac_chars) {
            bits -= 5;
            out += alphabet[(acc >> bits) & 31];
        }
    }
    return out;
}

bool valid_queue_id(std::string_view q) {
    if (q.empty() || q.size() > 32) return false;
    for (char c : q)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    return true;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

} // namespace

std::string verp_token(const verp_ref& ref, std::string_view key) {
    if (key.empty()) throw std::invalid_argument("VERP key is empty");
    if (!valid_queue_id(ref.queue_id)) throw std::invalid_argument("VERP: bad queue id");
    const std::string q = upper(ref.queue_id);
    return mime::lower(q) + "-" + std::to_string(ref.recipient_id) + "-" +
           mac(q, ref.recipient_id, key);
}

std::optional<verp_ref> verp_parse_token(std::string_view token, std::string_view key) {
    if (key.empty() || token.size() > 80) return std::nullopt;
    std::size_t d1 = token.find('-');
    if (d1 == std::string_view::npos) return std::nullopt;
    std::size_t d2 = token.find('-', d1 + 1);
    if (d2 == std::string_view::npos || token.find('-', d2 + 1) != std::string_view::npos)
        return std::nullopt;
    std::string_view q = token.substr(0, d1), id_s = token.substr(d1 + 1, d2 - d1 - 1),
                     m = token.substr(d2 + 1);
    if (!valid_queue_id(q) || id_s.empty() || id_s.size() > 19 || m.size() != mac_chars)
        return std::nullopt;
    std::uint64_t id = 0;
    for (char c : id_s) {
        if (c < '0' || c > '9') return std::nullopt;
        id = id * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (id_s.size() > 1 && id_s[0] == '0') return std::nullopt; // one spelling per id
    verp_ref ref{upper(q), id};
    const std::string want = mac(ref.queue_id, id, key);
    const std::string got = mime::lower(m);
    if (CRYPTO_memcmp(want.data(), got.data(), mac_chars) != 0) return std::nullopt;
    return ref;
}

std::string verp_address(const verp_ref& ref, std::string_view key, std::string_view domain,
                         std::string_view prefix) {
    return std::string(prefix) + "+" + verp_token(ref, key) + "@" + std::string(domain);
}

std::optional<verp_ref> verp_parse_address(std::string_view address, std::string_view key,
                                           std::string_view prefix) {
    std::size_t at = address.rfind('@');
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view local = address.substr(0, at);
    if (local.size() <= prefix.size() + 1 || local[prefix.size()] != '+' ||
        mime::lower(local.substr(0, prefix.size())) != mime::lower(prefix))
        return std::nullopt;
    return verp_parse_token(local.substr(prefix.size() + 1), key);
}

std::string verp_find_token(std::string_view text, std::string_view prefix) {
    const std::string hay = mime::lower(text);
    const std::string needle = mime::lower(prefix) + "+";
    std::size_t p = 0;
    while ((p = hay.find(needle, p)) != std::string::npos) {
        // Must start a local part: beginning, '<', whitespace, ':' or ','.
        bool starts = p == 0 || hay[p - 1] == '<' || hay[p - 1] == ' ' || hay[p - 1] == '\t' ||
                      hay[p - 1] == ':' || hay[p - 1] == ',' || hay[p - 1] == '\n' ||
                      hay[p - 1] == ';';
        std::size_t b = p + needle.size();
        std::size_t at = hay.find('@', b);
        if (starts && at != std::string::npos && at > b) {
            std::string_view tok = text.substr(b, at - b);
            bool ok = true;
            for (char c : tok)
                ok = ok && ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                            (c >= 'a' && c <= 'z') || c == '-');
            if (ok) return std::string(tok);
        }
        p = b;
    }
    return {};
}

} // namespace cartero::bounce
