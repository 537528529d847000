// tests/unit/mailauth/dkim_verifier_test.cpp — every verdict and reason the verifier gives:
// tampering, added headers, key record checks, expiry, l=, DNS outcomes, several signatures.
#include "daemon/mailauth/dkim_signer.hpp"
#include "daemon/mailauth/dkim_verifier.hpp"
#include "dkim_test_keys.hpp"

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

using namespace cartero;
using namespace cartero::mailauth;
using dkim::key_algorithm;

namespace {

const std::string message = "From: Alice <alice@example.com>\r\n"
                            "To: bob@example.org\r\n"
                            "Subject: quarterly invoice\r\n"
                            "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                            "\r\n"
                            "Amount due: 100 EUR\r\n"
                            "Pay to: IBAN 1234\r\n";

constexpr std::int64_t now = 1'800'000'000;

struct fixture {
    key_algorithm alg;
    test::fake_dns dns;
    explicit fixture(key_algorithm a = key_algorithm::rsa) : alg(a) {
        set_record(dkim::dns_record_value(alg, key().public_key_b64));
    }
    const dkim::generated_key& key() const { return test::test_key(alg); }
    void set_record(std::string txt) {
        dns.records["sel._domainkey.example.com"] = {std::move(txt)};
    }
    std::string sign(const std::string& msg, signer_options o = {}) const {
        signer s("example.com", "sel", alg, key().private_key_pem, std::move(o));
        return s.sign(msg, now) + msg;
    }
    std::string hand(const std::string& msg, const std::string& tags) const {
        return test::hand_sign(msg, tags, key().private_key_pem, alg);
    }
    dkim_result verify_one(const std::string& msg, std::int64_t at = now) {
        verifier v(dns.lookup());
        auto r = v.verify(msg, at);
        REQUIRE(r.size() == 1);
        return r[0];
    }
};

void replace(std::string& s, const std::string& from, const std::string& to) {
    auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
}

#define CHECK_VERDICT(r, st, why)                                                                  \
    do {                                                                                           \
        INFO((r).detail);                                                                          \
        CHECK((r).status == (st));                                                                 \
        CHECK((r).reason == (why));                                                                \
    } while (0)

} // namespace

TEST_CASE("verifier: unsigned message has no results") {
    fixture f;
    verifier v(f.dns.lookup());
    CHECK(v.verify(message, now).empty());
    CHECK(f.dns.lookups == 0);
}

TEST_CASE("verifier: tampered body") {
    for (auto alg : {key_algorithm::rsa, key_algorithm::ed25519}) {
        fixture f(alg);
        std::string m = f.sign(message);
        CHECK_VERDICT(f.verify_one(m), dkim_status::pass, dkim_reason::none);
        replace(m, "IBAN 1234", "IBAN 6666");
        CHECK_VERDICT(f.verify_one(m), dkim_status::fail, dkim_reason::body_hash_mismatch);
    }
}

TEST_CASE("verifier: whitespace changes survive relaxed canonicalisation") {
    fixture f;
    std::string m = f.sign(message);
    replace(m, "Amount due: 100", "Amount  due:\t100");
    replace(m, "Subject: quarterly", "Subject:   quarterly");
    m += "\r\n\r\n";
    CHECK_VERDICT(f.verify_one(m), dkim_status::pass, dkim_reason::none);
}

TEST_CASE("verifier: tampered signed header") {
    for (auto alg : {key_algorithm::rsa, key_algorithm::ed25519}) {
        fixture f(alg);
        std::string m = f.sign(message);
        replace(m, "Subject: quarterly invoice", "Subject: urgent invoice");
        CHECK_VERDICT(f.verify_one(m), dkim_status::fail, dkim_reason::signature_mismatch);
    }
}

TEST_CASE("verifier: added headers") {
    fixture f;
    std::string m = f.sign(message);
    // an unsigned field anywhere is harmless
    CHECK_VERDICT(f.verify_one("X-Added: 1\r\n" + m), dkim_status::pass, dkim_reason::none);
    // an added From is not: the signature over-signs From (h=from:from), so the added field
    // takes the slot that was signed as empty
    std::string second_from = m;
    replace(second_from, "To: bob", "From: Mallory <ceo@example.com>\r\nTo: bob");
    CHECK_VERDICT(f.verify_one(second_from), dkim_status::fail, dkim_reason::signature_mismatch);
    // a third one is more than h= covers at all
    CHECK_VERDICT(f.verify_one("From: x@example.com\r\n" + second_from), dkim_status::fail,
                  dkim_reason::unsigned_from);
    // ... even with a signer that did not over-sign From (h=from once): the same verdict
    std::string once = f.hand(message, "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; "
                                       "s=sel; h=from:to:subject");
    CHECK_VERDICT(f.verify_one(once), dkim_status::pass, dkim_reason::none);
    CHECK_VERDICT(f.verify_one("From: ceo@example.com\r\n" + once), dkim_status::fail,
                  dkim_reason::unsigned_from);
    // a changed From is a signature mismatch
    std::string changed = m;
    replace(changed, "From: Alice", "From: Alicia");
    CHECK_VERDICT(f.verify_one(changed), dkim_status::fail, dkim_reason::signature_mismatch);
}

TEST_CASE("verifier: key record checks") {
    fixture f;
    std::string m = f.sign(message);
    const std::string p = f.key().public_key_b64;

    f.set_record("v=DKIM1; k=rsa; p=");
    CHECK_VERDICT(f.verify_one(m), dkim_status::fail, dkim_reason::key_revoked);
    f.set_record("v=DKIM1; k=ed25519; p=" + p);
    CHECK_VERDICT(f.verify_one(m), dkim_status::fail, dkim_reason::key_type_mismatch);
    f.set_record("v=DKIM1; h=sha1; p=" + p);
    CHECK_VERDICT(f.verify_one(m), dkim_status::fail, dkim_reason::key_hash_mismatch);
    f.set_record("v=DKIM1; h=sha1:sha256; s=email; p=" + p); // k= defaults to rsa
    CHECK_VERDICT(f.verify_one(m), dkim_status::pass, dkim_reason::none);
    f.set_record("v=DKIM1; s=tlsrpt; p=" + p);
    CHECK_VERDICT(f.verify_one(m), dkim_status::permerror, dkim_reason::bad_key_record);
    f.set_record("v=DKIM2; p=" + p);
    CHECK_VERDICT(f.verify_one(m), dkim_status::permerror, dkim_reason::bad_key_record);
    f.set_record("v=DKIM1; p=AAAA" + p.substr(4));
    CHECK_VERDICT(f.verify_one(m), dkim_status::permerror, dkim_reason::bad_key_record);
    f.set_record("v=DKIM1; p=not base64!");
    CHECK_VERDICT(f.verify_one(m), dkim_status::permerror, dkim_reason::bad_key_record);
    f.set_record("v=DKIM1; t=y; p=" + p);
    auto testing = f.verify_one(m);
    CHECK(testing.status == dkim_status::pass);
    CHECK(testing.testing);
    // split into two character-strings by the resolver and joined: still the same key
    f.set_record("v=DKIM1; k=rsa;  p=" + p.substr(0, 200) + p.substr(200));
    CHECK_VERDICT(f.verify_one(m), dkim_status::pass, dkim_reason::none);
    // several records: the first DKIM key is used
    f.dns.records["sel._domainkey.example.com"] = {"some other text", "v=DKIM1; k=rsa; p=" + p};
    CHECK_VERDICT(f.verify_one(m), dkim_status::pass, dkim_reason::none);
}

TEST_CASE("verifier: DNS outcomes") {
    fixture f;
    std::string m = f.sign(message);
    f.dns.records.clear();
    CHECK_VERDICT(f.verify_one(m), dkim_status::permerror, dkim_reason::no_key);
    f.dns.temporary = true;
    CHECK_VERDICT(f.verify_one(m), dkim_status::temperror, dkim_reason::dns_temporary);
}

TEST_CASE("verifier: expiry") {
    fixture f(key_algorithm::ed25519);
    signer_options o;
    o.expire_after = 60;
    std::string m = f.sign(message, o);
    CHECK_VERDICT(f.verify_one(m, now + 30), dkim_status::pass, dkim_reason::none);
    CHECK_VERDICT(f.verify_one(m, now + 3600), dkim_status::fail, dkim_reason::expired);
    // x= before t= is malformed
    std::string bad = f.hand(message, "v=1; a=ed25519-sha256; d=example.com; s=sel; h=from; "
                                      "t=200; x=100");
    CHECK_VERDICT(f.verify_one(bad, 50), dkim_status::fail, dkim_reason::syntax);
}

TEST_CASE("verifier: l= is honoured and reported") {
    fixture f;
    auto body_at = message.find("\r\n\r\n") + 4;
    std::string body = message.substr(body_at);
    std::string m = f.hand(message, "v=1; a=rsa-sha256; c=simple/simple; d=example.com; s=sel; "
                                    "h=from:to:subject; l=" +
                                        std::to_string(body.size()));
    auto r = f.verify_one(m);
    CHECK_VERDICT(r, dkim_status::pass, dkim_reason::none);
    CHECK(r.uses_length_limit);
    CHECK(r.body_length == body.size());
    // appended content is not covered: still a pass, and still flagged
    auto appended = f.verify_one(m + "Actually pay to IBAN 6666\r\n");
    CHECK_VERDICT(appended, dkim_status::pass, dkim_reason::none);
    CHECK(appended.uses_length_limit);
    // a change inside the covered part is caught
    std::string inside = m;
    replace(inside, "100 EUR", "900 EUR");
    CHECK_VERDICT(f.verify_one(inside), dkim_status::fail, dkim_reason::body_hash_mismatch);
    // l=0 under relaxed covers nothing of the body
    std::string zero = f.hand(message, "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; "
                                       "s=sel; h=from; l=0");
    replace(zero, "Amount due", "Anything");
    CHECK_VERDICT(f.verify_one(zero), dkim_status::pass, dkim_reason::none);
}

TEST_CASE("verifier: simple canonicalisation is strict about whitespace") {
    fixture f(key_algorithm::ed25519);
    std::string m = f.hand(message, "v=1; a=ed25519-sha256; c=simple/simple; d=example.com; "
                                    "s=sel; h=from:to:subject:date");
    CHECK_VERDICT(f.verify_one(m), dkim_status::pass, dkim_reason::none);
    std::string header_ws = m;
    replace(header_ws, "Subject: quarterly", "Subject:  quarterly");
    CHECK_VERDICT(f.verify_one(header_ws), dkim_status::fail, dkim_reason::signature_mismatch);
    std::string body_ws = m;
    replace(body_ws, "Amount due", "Amount  due");
    CHECK_VERDICT(f.verify_one(body_ws), dkim_status::fail, dkim_reason::body_hash_mismatch);
    // trailing empty lines are not part of the body, in simple too
    CHECK_VERDICT(f.verify_one(m + "\r\n\r\n"), dkim_status::pass, dkim_reason::none);
}

TEST_CASE("verifier: signature tag checks") {
    fixture f;
    const std::string base = "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; ";
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "h=to:subject")), dkim_status::fail,
                  dkim_reason::from_not_signed);
    CHECK_VERDICT(f.verify_one(f.hand(message, "a=rsa-sha256; d=example.com; s=sel; h=from")),
                  dkim_status::fail, dkim_reason::missing_tag);
    CHECK_VERDICT(f.verify_one(f.hand(message, "v=2; a=rsa-sha256; d=example.com; s=sel; h=from")),
                  dkim_status::fail, dkim_reason::syntax);
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "h=from; i=@example.net")), dkim_status::fail,
                  dkim_reason::identity_mismatch);
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "h=from; i=alice@mail.example.com")),
                  dkim_status::pass, dkim_reason::none);
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "h=from; q=dns/txt")), dkim_status::pass,
                  dkim_reason::none);
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "h=from; q=http")), dkim_status::fail,
                  dkim_reason::syntax);
    CHECK_VERDICT(f.verify_one(f.hand(message, "v=1; a=rsa-sha256; c=fancy; d=example.com; "
                                               "s=sel; h=from")),
                  dkim_status::fail, dkim_reason::syntax);
    CHECK_VERDICT(f.verify_one(f.hand(message, "v=1; a=rsa-sha1; d=example.com; s=sel; h=from")),
                  dkim_status::neutral, dkim_reason::unsupported_algorithm);
    CHECK_VERDICT(f.verify_one("DKIM-Signature: v=1; a=rsa-sha256; v=1\r\n" + message),
                  dkim_status::fail, dkim_reason::syntax);
    CHECK_VERDICT(f.verify_one("DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; "
                               "h=from; bh=!!; b=AAAA\r\n" +
                               message),
                  dkim_status::fail, dkim_reason::syntax);

    // the result names the signature even when it fails
    auto r = f.verify_one(f.hand(message, base + "h=from; i=alice@example.com"));
    CHECK(r.domain == "example.com");
    CHECK(r.identity == "alice@example.com");
    CHECK(r.selector == "sel");
    CHECK(r.algorithm == "rsa-sha256");
    CHECK(r.b_prefix.size() == 12);
}

TEST_CASE("verifier: t=s forbids a subdomain identity") {
    fixture f;
    f.set_record("v=DKIM1; t=s; p=" + f.key().public_key_b64);
    const std::string base = "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel; h=from";
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "; i=a@sub.example.com")), dkim_status::fail,
                  dkim_reason::key_strict_subdomain);
    CHECK_VERDICT(f.verify_one(f.hand(message, base + "; i=a@example.com")), dkim_status::pass,
                  dkim_reason::none);
}

TEST_CASE("verifier: RSA keys under 1024 bits are refused") {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(768));
    REQUIRE(k);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(n));
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(k, &der);
    std::string p = base64_encode(der, static_cast<std::size_t>(len));
    OPENSSL_free(der);
    BIO_free(bio);
    EVP_PKEY_free(k);

    test::fake_dns dns;
    dns.records["weak._domainkey.example.com"] = {"v=DKIM1; k=rsa; p=" + p};
    std::string m = test::hand_sign(message, "v=1; a=rsa-sha256; d=example.com; s=weak; h=from",
                                    pem, key_algorithm::rsa);
    auto r = verifier(dns.lookup()).verify(m, now);
    REQUIRE(r.size() == 1);
    CHECK_VERDICT(r[0], dkim_status::permerror, dkim_reason::key_too_short);
}

TEST_CASE("verifier: every signature gets its own result, top first") {
    fixture rsa(key_algorithm::rsa);
    fixture ed(key_algorithm::ed25519);
    test::fake_dns dns;
    dns.records["sel._domainkey.example.com"] = rsa.dns.records["sel._domainkey.example.com"];
    dns.records["ed._domainkey.example.com"] = ed.dns.records["sel._domainkey.example.com"];
    std::string once = rsa.sign(message);
    signer second("example.com", "ed", key_algorithm::ed25519, ed.key().private_key_pem);
    std::string twice = second.sign(once, now) + once;
    twice.insert(0, "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=gone; h=from; bh=AAAA; "
                    "b=AAAA\r\n");
    auto r = verifier(dns.lookup()).verify(twice, now);
    REQUIRE(r.size() == 3);
    CHECK_VERDICT(r[0], dkim_status::permerror, dkim_reason::no_key);
    CHECK_VERDICT(r[1], dkim_status::pass, dkim_reason::none);
    CHECK(r[1].selector == "ed");
    CHECK_VERDICT(r[2], dkim_status::pass, dkim_reason::none);
    CHECK(r[2].index == 2);

    verifier_options one;
    one.max_signatures = 1;
    auto limited = verifier(dns.lookup(), one).verify(twice, now);
    REQUIRE(limited.size() == 3);
    CHECK_VERDICT(limited[2], dkim_status::neutral, dkim_reason::too_many_signatures);
}
