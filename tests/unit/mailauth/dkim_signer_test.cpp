// tests/unit/mailauth/dkim_signer_test.cpp — the DKIM-Signature field the signer writes: tags,
// h= with over-signed From, folding, and that it verifies (both algorithms).
#include "daemon/mailauth/dkim_signer.hpp"
#include "dkim_test_keys.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::mailauth;

namespace {

const std::string message = "From: Alice <alice@example.com>\r\n"
                            "To: bob@example.org\r\n"
                            "Subject: a subject that is long enough to matter when folded, "
                            "really quite long\r\n"
                            "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                            "Message-ID: <1@example.com>\r\n"
                            "X-Mailer: not signed\r\n"
                            "Received: not signed either\r\n"
                            "\r\n"
                            "Hello.\r\n";

// The tags of a DKIM-Signature field (unfolded).
tag_list tags_of(const std::string& field) {
    auto colon = field.find(':');
    auto t = tag_list::parse(std::string_view(field).substr(colon + 1));
    REQUIRE(t);
    return *t;
}

} // namespace

TEST_CASE("signer writes the tags RFC 6376 asks for") {
    for (auto alg : {dkim::key_algorithm::rsa, dkim::key_algorithm::ed25519}) {
        signer s("Example.COM", "sel1", alg, test::test_key(alg).private_key_pem);
        std::string field = s.sign(message, 1'800'000'000);
        INFO(field);
        REQUIRE(field.starts_with("DKIM-Signature: v=1; a="));
        REQUIRE(field.ends_with("\r\n"));
        auto t = tags_of(field);
        CHECK(*t.find("v") == "1");
        CHECK(*t.find("a") == dkim::to_string(alg));
        CHECK(*t.find("c") == "relaxed/relaxed");
        CHECK(*t.find("d") == "example.com");
        CHECK(*t.find("s") == "sel1");
        CHECK(*t.find("t") == "1800000000");
        CHECK_FALSE(t.has("x"));
        CHECK_FALSE(t.has("l"));
        // From once more than it occurs; only present recommended fields; X-Mailer, Received not
        CHECK(strip_fws(*t.find("h")) == "from:from:subject:date:to:message-id");
        // bh= of "Hello.\r\n" under relaxed
        sha256 want;
        want.update("Hello.\r\n");
        auto d = want.finish();
        CHECK(strip_fws(*t.find("bh")) == base64_encode(d.data(), d.size()));
        auto b = base64_decode(*t.find("b"));
        REQUIRE(b);
        CHECK(b->size() == (alg == dkim::key_algorithm::rsa ? 256u : 64u));

        // folded: no line longer than 78, continuation lines start with a space
        std::size_t start = 0;
        while (start < field.size()) {
            auto eol = field.find("\r\n", start);
            CHECK(eol - start <= 78);
            if (start > 0) CHECK(field[start] == ' ');
            start = eol + 2;
        }
    }
}

TEST_CASE("signer: message without From still lists from in h=, two Froms give from x3") {
    signer s("example.com", "sel", dkim::key_algorithm::ed25519,
             test::test_key(dkim::key_algorithm::ed25519).private_key_pem);
    auto t = tags_of(s.sign("Subject: x\r\n\r\n", 1));
    CHECK(strip_fws(*t.find("h")) == "from:subject");
    auto t2 = tags_of(s.sign("From: a@x\r\nFrom: b@x\r\n\r\nbody\r\n", 1));
    CHECK(strip_fws(*t2.find("h")) == "from:from:from");
}

TEST_CASE("signer options: extra headers, over-signing, expiry") {
    signer_options o;
    o.headers = {"Subject", "X-Campaign"};
    o.oversign = {"subject", "reply-to"};
    o.expire_after = 3600;
    signer s("example.com", "sel", dkim::key_algorithm::ed25519,
             test::test_key(dkim::key_algorithm::ed25519).private_key_pem, o);
    auto t = tags_of(s.sign("From: a@x\r\nSubject: s\r\nX-Campaign: 7\r\n\r\n", 100));
    CHECK(strip_fws(*t.find("h")) == "from:from:subject:subject:x-campaign:reply-to");
    CHECK(*t.find("x") == "3700");
}

TEST_CASE("signer refuses a key of the wrong type or garbage") {
    CHECK_THROWS(signer("example.com", "sel", dkim::key_algorithm::rsa,
                        test::test_key(dkim::key_algorithm::ed25519).private_key_pem));
    CHECK_THROWS(signer("example.com", "sel", dkim::key_algorithm::rsa, "not a key"));
}

TEST_CASE("signed messages verify, for both algorithms") {
    for (auto alg : {dkim::key_algorithm::rsa, dkim::key_algorithm::ed25519}) {
        const auto& k = test::test_key(alg);
        signer s("example.com", "sel", alg, k.private_key_pem);
        test::fake_dns dns;
        dns.records["sel._domainkey.example.com"] = {dkim::dns_record_value(alg, k.public_key_b64)};
        verifier v(dns.lookup());
        for (std::string body : {"", "\r\n\r\n", "x\r\n\r\n", "  spaced \t out  \r\n",
                                 "8-bit: \xc3\xa9\xc3\xa8\r\n"}) {
            std::string msg = "From: a@example.com\r\nSubject:  hi \r\n  there\r\n\r\n" + body;
            std::string signed_msg = s.sign(msg, 1000) + msg;
            auto r = v.verify(signed_msg, 2000);
            REQUIRE(r.size() == 1);
            INFO(signed_msg << r[0].detail);
            CHECK(r[0].status == dkim_status::pass);
            CHECK(r[0].domain == "example.com");
            CHECK(r[0].identity == "@example.com");
            CHECK(r[0].selector == "sel");
            CHECK(r[0].algorithm == dkim::to_string(alg));
            CHECK_FALSE(r[0].uses_length_limit);
        }
    }
}
