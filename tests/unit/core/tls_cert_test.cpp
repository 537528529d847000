// tests/unit/core/tls_cert_test.cpp — the self-signed certificate: modes, SAN, key match, validity.
#include "core/tls_cert.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>

TEST_CASE("write_self_signed writes a matching key and certificate", "[tls]") {
    cartero::test::temp_dir t;
    std::string cert = t.path("cert.pem"), key = t.path("key.pem");
    cartero::tls::write_self_signed("mail.example.org", cert, key);

    struct stat st;
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    REQUIRE(::stat(cert.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(::stat((cert + ".tmp").c_str(), &st) != 0);

    FILE* f = std::fopen(cert.c_str(), "r");
    REQUIRE(f);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(x);
    f = std::fopen(key.c_str(), "r");
    REQUIRE(f);
    EVP_PKEY* k = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(k);

    CHECK(X509_check_private_key(x, k) == 1);
    CHECK(X509_verify(x, k) == 1); // self-signed by that key
    CHECK(X509_check_host(x, "mail.example.org", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(x, "other.example.org", 0, 0, nullptr) != 1);
    CHECK(EVP_PKEY_is_a(k, "EC"));
    // Valid now, and for 825 days: expired at 826.
    CHECK(X509_cmp_current_time(X509_get0_notBefore(x)) <= 0);
    time_t in_824 = time(nullptr) + 824L * 86400, in_826 = time(nullptr) + 826L * 86400;
    CHECK(X509_cmp_time(X509_get0_notAfter(x), &in_824) > 0);
    CHECK(X509_cmp_time(X509_get0_notAfter(x), &in_826) < 0);

    EVP_PKEY_free(k);
    X509_free(x);
}

TEST_CASE("write_self_signed fails cleanly in a missing directory", "[tls]") {
    cartero::test::temp_dir t;
    CHECK_THROWS_AS(cartero::tls::write_self_signed("mail.example.org", t.path("no/cert.pem"),
                                                    t.path("no/key.pem")),
                    std::runtime_error);
}
