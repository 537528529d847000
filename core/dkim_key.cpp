// core/dkim_key.cpp — DKIM key generation (OpenSSL 3), TXT record values, atomic 0600 key files.
#include "core/dkim_key.hpp"

#include "core/atomic_file.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace cartero::dkim {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct bio_free {
    void operator()(BIO* b) const { BIO_free(b); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

[[noreturn]] void ssl_fail(const char* doing) {
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    throw std::runtime_error(std::string("cannot generate the DKIM key: ") + doing + ": " + buf);
}

std::string base64(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

[[noreturn]] void sys_fail(const std::string& what, const std::string& path) {
    throw std::runtime_error("cannot write " + path + ": " + what + ": " + std::strerror(errno));
}

// mkdir -p with 0700 for every directory this call creates (existing ones are left alone).
void make_dirs(const std::string& dir) {
    if (dir.empty()) return;
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            sys_fail("not a directory", dir);
        }
        return;
    }
    auto slash = dir.find_last_not_of('/');
    slash = slash == std::string::npos ? std::string::npos : dir.rfind('/', slash);
    if (slash != std::string::npos && slash > 0) make_dirs(dir.substr(0, slash));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) sys_fail("mkdir", dir);
}

} // namespace

std::string_view to_string(key_algorithm a) {
    return a == key_algorithm::rsa ? "rsa-sha256" : "ed25519-sha256";
}

generated_key generate_key(key_algorithm alg) {
    pkey_ptr key(alg == key_algorithm::rsa
                     ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048))
                     : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (!key) ssl_fail("keygen");

    generated_key out{alg, {}, {}};
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        ssl_fail("PEM encoding");
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    out.private_key_pem.assign(data, static_cast<std::size_t>(n));

    if (alg == key_algorithm::rsa) {
        // RFC 6376 §3.6.1: p= is the DER SubjectPublicKeyInfo ("RSAPublicKey" wrapped in SPKI).
        unsigned char* der = nullptr;
        int len = i2d_PUBKEY(key.get(), &der);
        if (len <= 0) ssl_fail("public key encoding");
        out.public_key_b64 = base64(der, static_cast<std::size_t>(len));
        OPENSSL_free(der);
    } else {
        // RFC 8463 §4: the raw 32-octet public key, not an SPKI.
        unsigned char raw[32];
        std::size_t len = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(key.get(), raw, &len) != 1 || len != sizeof raw)
            ssl_fail("public key encoding");
        out.public_key_b64 = base64(raw, len);
    }
    return out;
}

std::string dns_record_value(key_algorithm alg, std::string_view public_key_b64) {
    return std::string("v=DKIM1; k=") + (alg == key_algorithm::rsa ? "rsa" : "ed25519") +
           "; p=" + std::string(public_key_b64);
}

void write_private_key(const std::string& path, const std::string& pem) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    make_dirs(dir);

    write_file_atomically(path, pem, 0600);
}

} // namespace cartero::dkim
