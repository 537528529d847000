// daemon/mailauth/dkim_crypto.cpp — SHA-256, base64 and RSA/Ed25519 digest signatures over
// OpenSSL 3.
#include "daemon/mailauth/dkim_crypto.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace cartero::mailauth {
namespace {

pkey_ptr wrap(EVP_PKEY* k) {
    return pkey_ptr(k, pkey_deleter{});
}

int expected_type(dkim::key_algorithm alg) {
    return alg == dkim::key_algorithm::rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519;
}

struct ctx_free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

} // namespace

void pkey_deleter::operator()(evp_pkey_st* k) const {
    EVP_PKEY_free(k);
}

sha256::sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx_);
        throw std::runtime_error("SHA-256 unavailable");
    }
}

sha256::~sha256() {
    EVP_MD_CTX_free(ctx_);
}

void sha256::update(std::string_view data) {
    if (!data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
}

sha256_digest sha256::finish() {
    sha256_digest d{};
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, d.data(), &n);
    return d;
}

std::string base64_encode(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string clean;
    clean.reserve(text.size());
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '=';
        if (!ok) return std::nullopt;
        clean += c;
    }
    if (clean.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    while (pad < clean.size() && clean[clean.size() - 1 - pad] == '=')
        ++pad;
    if (pad > 2 || clean.find('=') < clean.size() - pad) return std::nullopt;
    std::string out(clean.size() / 4 * 3, '\0');
    if (clean.empty()) return out;
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(clean.data()),
                            static_cast<int>(clean.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad); // EVP_DecodeBlock counts padding as zeros
    return out;
}

pkey_ptr load_private_key(std::string_view pem, dkim::key_algorithm alg) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) throw std::runtime_error("out of memory");
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    ERR_clear_error();
    if (!k) throw std::runtime_error("the DKIM private key is not a PEM private key");
    pkey_ptr key = wrap(k);
    if (EVP_PKEY_get_base_id(k) != expected_type(alg))
        throw std::runtime_error(std::string("the DKIM private key is not an ") +
                                 (alg == dkim::key_algorithm::rsa ? "RSA" : "Ed25519") + " key");
    return key;
}

pkey_ptr load_public_key(std::string_view der, dkim::key_algorithm alg) {
    EVP_PKEY* k = nullptr;
    if (alg == dkim::key_algorithm::ed25519) {
        if (der.size() != 32) return nullptr;
        k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(der.data()), 32);
    } else {
        auto p = reinterpret_cast<const unsigned char*>(der.data());
        k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
        if (!k || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
            EVP_PKEY_free(k);
            // RFC 6376 §3.6.1 says SPKI, but records with a bare RSAPublicKey exist (and
            // dkimpy and OpenDKIM accept them).
            p = reinterpret_cast<const unsigned char*>(der.data());
            k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
        }
    }
    ERR_clear_error();
    if (!k) return nullptr;
    if (EVP_PKEY_get_base_id(k) != expected_type(alg)) {
        EVP_PKEY_free(k);
        return nullptr;
    }
    return wrap(k);
}

int key_bits(const pkey_ptr& key) {
    return EVP_PKEY_get_bits(key.get());
}

std::string sign_digest(const pkey_ptr& key, dkim::key_algorithm alg, const sha256_digest& d) {
    std::string sig;
    std::size_t len = 0;
    if (alg == dkim::key_algorithm::rsa) {
        std::unique_ptr<EVP_PKEY_CTX, ctx_free> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
            EVP_PKEY_sign(ctx.get(), nullptr, &len, d.data(), d.size()) != 1)
            throw std::runtime_error("RSA signing failed");
        sig.resize(len);
        if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, d.data(),
                          d.size()) != 1)
            throw std::runtime_error("RSA signing failed");
    } else {
        std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
        if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
            EVP_DigestSign(ctx.get(), nullptr, &len, d.data(), d.size()) != 1)
            throw std::runtime_error("Ed25519 signing failed");
        sig.resize(len);
        if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, d.data(),
                           d.size()) != 1)
            throw std::runtime_error("Ed25519 signing failed");
    }
    sig.resize(len);
    return sig;
}

bool verify_digest(const pkey_ptr& key, dkim::key_algorithm alg, const sha256_digest& d,
                   std::string_view signature) {
    auto sig = reinterpret_cast<const unsigned char*>(signature.data());
    int rc = 0;
    if (alg == dkim::key_algorithm::rsa) {
        std::unique_ptr<EVP_PKEY_CTX, ctx_free> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
        rc = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
                     EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
                     EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1
                 ? EVP_PKEY_verify(ctx.get(), sig, signature.size(), d.data(), d.size())
                 : 0;
    } else {
        std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
        rc = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1
                 ? EVP_DigestVerify(ctx.get(), sig, signature.size(), d.data(), d.size())
                 : 0;
    }
    ERR_clear_error();
    return rc == 1;
}

} // namespace cartero::mailauth
