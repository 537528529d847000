// core/tls_cert.cpp — ECDSA P-256 self-signed certificate generation and atomic PEM writes.
#include "core/tls_cert.hpp"

#include "core/atomic_file.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace cartero::tls {
namespace {

[[noreturn]] void ossl_fail(const std::string& step) {
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    throw std::runtime_error("cannot create the TLS certificate: " + step + ": " + buf);
}

template <class T, void (*F)(T*)>
struct deleter {
    void operator()(T* p) const { F(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;

void add_ext(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || !X509_add_ext(cert, ext.get(), -1)) ossl_fail("extension " + value);
}

std::string to_pem(auto&& write) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || !write(bio.get())) ossl_fail("PEM encoding");
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// The file appears whole or not at all (core/atomic_file).
void write_atomically(const std::string& path, const std::string& data, mode_t mode) {
    write_file_atomically(path, data, mode);
}

} // namespace

void write_self_signed(std::string_view hostname, const std::string& cert_path,
                       const std::string& key_path) {
    write_self_signed(std::vector<std::string>{std::string(hostname)}, cert_path, key_path);
}

std::optional<certificate_info> read_certificate(const std::string& cert_path) {
    bio_ptr bio(BIO_new_file(cert_path.c_str(), "r"));
    if (!bio) {
        ERR_clear_error();
        return std::nullopt;
    }
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        ERR_clear_error();
        return std::nullopt;
    }
    certificate_info info;
    // Not X509_check_issued: it also demands keyCertSign, which a leaf like ours lacks.
    if (X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0) {
        EVP_PKEY* pub = X509_get0_pubkey(cert.get());
        info.self_signed = pub && X509_verify(cert.get(), pub) == 1;
    }
    ERR_clear_error();
    auto* sans = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
    if (!sans) return info;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS) continue;
        const ASN1_IA5STRING* str = g->d.dNSName;
        info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)),
                                    static_cast<std::size_t>(ASN1_STRING_length(str)));
    }
    GENERAL_NAMES_free(sans);
    return info;
}

void write_self_signed(const std::vector<std::string>& names, const std::string& cert_path,
                       const std::string& key_path) {
    if (names.empty())
        throw std::runtime_error("cannot create the TLS certificate: no host name");
    for (const auto& n : names)
        if (n.empty() || n.find('\0') != std::string::npos || n.find(',') != std::string::npos)
            throw std::runtime_error("cannot create the TLS certificate: bad host name");
    const std::string& host = names.front();

    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key) ossl_fail("EC key generation");

    x509_ptr cert(X509_new());
    if (!cert) ossl_fail("X509_new");
    if (!X509_set_version(cert.get(), 2)) ossl_fail("version"); // 2 = v3

    // RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random octets, top bit cleared.
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) ossl_fail("random serial");
    serial[0] &= 0x7f;
    serial[0] |= 0x01; // never all-zero, never a leading zero octet
    bn_ptr bn(BN_bin2bn(serial, sizeof serial, nullptr));
    if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
        ossl_fail("serial");

    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 825L * 24 * 3600))
        ossl_fail("validity");
    if (!X509_set_pubkey(cert.get(), key.get())) ossl_fail("public key");

    X509_NAME* name = X509_get_subject_name(cert.get());
    if (host.size() <= 64 && // ub-common-name (RFC 5280 appendix A)
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1,
                                    0))
        ossl_fail("subject");
    if (!X509_set_issuer_name(cert.get(), name)) ossl_fail("issuer");

    add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), NID_ext_key_usage, "serverAuth");
    std::string san;
    for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
    add_ext(cert.get(), NID_subject_alt_name, san);
    add_ext(cert.get(), NID_subject_key_identifier, "hash");

    if (!X509_sign(cert.get(), key.get(), EVP_sha256())) ossl_fail("signing");

    std::string key_pem = to_pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    std::string cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });

    write_atomically(key_path, key_pem, 0600);
    write_atomically(cert_path, cert_pem, 0644);
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
}

} // namespace cartero::tls
