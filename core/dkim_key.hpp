// core/dkim_key.hpp — DKIM key material: generation, the DNS TXT record value, the 0600 key file.
#pragma once

#include <string>
#include <string_view>

namespace cartero::dkim {

enum class key_algorithm { rsa, ed25519 };

// "rsa-sha256" / "ed25519-sha256": the a= tag of a signature and the dkim_keys.algorithm column.
std::string_view to_string(key_algorithm a);

struct generated_key {
    key_algorithm algorithm;
    std::string private_key_pem; // PKCS#8, unencrypted (the file's mode protects it)
    std::string public_key_b64;  // the p= value of the DNS record (see dns_record_value)
};

// A fresh key: RSA-2048 with e = 65537 (RFC 8301 §3.2 asks for at least 2048 when signing), or
// Ed25519 (RFC 8463). Throws std::runtime_error when OpenSSL fails.
generated_key generate_key(key_algorithm alg);

// The TXT record value: "v=DKIM1; k=rsa; p=<b64>" / "v=DKIM1; k=ed25519; p=<b64>"
// (RFC 6376 §3.6.1, RFC 8463 §4). For RSA p= is the DER SubjectPublicKeyInfo in base64; for
// Ed25519 the raw 32-byte key in base64 (RFC 8463 §4).
std::string dns_record_value(key_algorithm alg, std::string_view public_key_b64);

// Writes PEM to path with mode 0600, atomically (tmp in the same dir + fsync + rename + fsync
// dir); creates the directory (and missing parents) with mode 0700. The file appears whole or
// not at all. Throws std::runtime_error naming the path and the system error.
void write_private_key(const std::string& path, const std::string& pem);

} // namespace cartero::dkim
