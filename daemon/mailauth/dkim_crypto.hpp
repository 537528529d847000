// daemon/mailauth/dkim_crypto.hpp — the OpenSSL pieces DKIM needs: SHA-256, base64, key loading,
// and sign/verify of a SHA-256 digest with RSA (PKCS#1 v1.5) or Ed25519 (RFC 8463 §3).
#pragma once

#include "core/dkim_key.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_md_ctx_st;
struct evp_pkey_st;

namespace cartero::mailauth {

using sha256_digest = std::array<unsigned char, 32>;

// Incremental SHA-256 (the body and header hashes are fed piece by piece, never copied whole).
class sha256 {
  public:
    sha256();
    ~sha256();
    sha256(const sha256&) = delete;
    sha256& operator=(const sha256&) = delete;
    void update(std::string_view data);
    sha256_digest finish();

  private:
    evp_md_ctx_st* ctx_;
};

std::string base64_encode(const unsigned char* data, std::size_t n);
// Decodes base64 after dropping whitespace (RFC 6376 §3.5: b= and bh= may be folded); nullopt
// when what remains is not well-formed base64 (bad characters, bad length or padding).
std::optional<std::string> base64_decode(std::string_view text);

// A reference-counted EVP_PKEY; shared between threads for signing and verifying (OpenSSL 3
// allows concurrent use of one key with separate contexts).
struct pkey_deleter {
    void operator()(evp_pkey_st* k) const;
};
using pkey_ptr = std::shared_ptr<evp_pkey_st>;

// The private key in `pem` (PKCS#8 or traditional); throws std::runtime_error if it does not
// parse or is not of `alg`'s type.
pkey_ptr load_private_key(std::string_view pem, dkim::key_algorithm alg);

// The public key from a record's decoded p= value: RSA as DER SubjectPublicKeyInfo (or, as old
// records have it, a bare PKCS#1 RSAPublicKey); Ed25519 as the raw 32 octets (RFC 8463 §4).
// nullptr when it does not parse.
pkey_ptr load_public_key(std::string_view der, dkim::key_algorithm alg);
int key_bits(const pkey_ptr& key);

// RSASSA-PKCS1-v1_5 over SHA-256 (RFC 6376 §3.3.1) or PureEdDSA Ed25519 over the 32-octet
// SHA-256 digest (RFC 8463 §3: the hash, not the data, is what Ed25519 signs).
std::string sign_digest(const pkey_ptr& key, dkim::key_algorithm alg, const sha256_digest& d);
bool verify_digest(const pkey_ptr& key, dkim::key_algorithm alg, const sha256_digest& d,
                   std::string_view signature);

} // namespace cartero::mailauth
