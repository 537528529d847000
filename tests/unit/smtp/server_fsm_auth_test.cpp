// tests/unit/smtp/server_fsm_auth_test.cpp — server_fsm: AUTH PLAIN / LOGIN (RFC 4954, RFC 4616).
#include "session_driver.hpp"

#include "daemon/smtp/sasl.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::smtp;
using namespace cartero::smtp::test;

namespace {
using replies = std::vector<std::string>;
std::string b64(std::string_view s) { return base64_encode(s); }
} // namespace

TEST_CASE("AUTH PLAIN with initial response", "[smtp][auth]") {
    session_driver d(tls_settings());
    d.send("EHLO c\r\n");
    auto r = d.send("AUTH PLAIN " + b64(std::string("\0alice\0s3cret", 13)) + "\r\n");
    CHECK(r == replies{"235 2.7.0 Authentication successful"});
    REQUIRE(d.auths.size() == 1);
    CHECK(d.auths[0].mechanism == "PLAIN");
    CHECK(d.auths[0].authzid.empty());
    CHECK(d.auths[0].username == "alice");
    CHECK(d.auths[0].password == "s3cret");
    CHECK(*d.fsm.authenticated_user() == "alice");
    CHECK(d.send("AUTH PLAIN " + b64(std::string("\0alice\0s3cret", 13)) + "\r\n") ==
          replies{"503 5.5.1 Already authenticated (RFC 4954 §4)"});
}

TEST_CASE("AUTH PLAIN without initial response, wrong password", "[smtp][auth]") {
    session_driver d(tls_settings());
    d.auth_ok = false;
    d.send("EHLO c\r\n");
    CHECK(d.send("AUTH plain\r\n") == replies{"334 "});
    CHECK(d.send(b64(std::string("bob\0bob\0wrong", 13)) + "\r\n") ==
          replies{"535 5.7.8 Authentication credentials invalid"});
    REQUIRE(d.auths.size() == 1);
    CHECK(d.auths[0].authzid == "bob");
    CHECK_FALSE(d.fsm.authenticated_user());
    CHECK(d.fsm.bad_commands() == 1);
}

TEST_CASE("AUTH PLAIN: proxy authzid refused without asking the session", "[smtp][auth]") {
    session_driver d(tls_settings());
    d.send("EHLO c\r\n");
    CHECK(d.send("AUTH PLAIN " + b64(std::string("admin\0bob\0pw", 12)) + "\r\n") ==
          replies{"535 5.7.8 Authentication credentials invalid"});
    CHECK(d.auths.empty());
}

TEST_CASE("AUTH LOGIN", "[smtp][auth]") {
    session_driver d(tls_settings());
    d.send("EHLO c\r\n");
    CHECK(d.send("AUTH LOGIN\r\n") == replies{"334 VXNlcm5hbWU6"});
    CHECK(d.send(b64("carol") + "\r\n") == replies{"334 UGFzc3dvcmQ6"});
    CHECK(d.send(b64("pw") + "\r\n") == replies{"235 2.7.0 Authentication successful"});
    REQUIRE(d.auths.size() == 1);
    CHECK(d.auths[0].mechanism == "LOGIN");
    CHECK(d.auths[0].username == "carol");
    CHECK(d.auths[0].password == "pw");

    session_driver e(tls_settings());
    e.send("EHLO c\r\n");
    CHECK(e.send("AUTH LOGIN " + b64("dave") + "\r\n") == replies{"334 UGFzc3dvcmQ6"});
    CHECK(e.send(b64("pw2") + "\r\n") == replies{"235 2.7.0 Authentication successful"});
    CHECK(e.auths.at(0).username == "dave");
}

TEST_CASE("AUTH cancel, bad base64, malformed PLAIN", "[smtp][auth]") {
    session_driver d(tls_settings());
    d.send("EHLO c\r\n");
    d.send("AUTH LOGIN\r\n");
    CHECK(d.send("*\r\n") == replies{"501 5.0.0 Authentication cancelled"});
    CHECK(d.send("NOOP\r\n") == replies{"250 2.0.0 Ok"}); // back to commands
    d.send("AUTH PLAIN\r\n");
    CHECK(d.send("not base64!\r\n") == replies{"501 5.5.2 Cannot decode base64 response"});
    CHECK(d.send("AUTH PLAIN %%%\r\n") == replies{"501 5.5.2 Cannot decode base64 response"});
    CHECK(d.send("AUTH PLAIN " + b64("no-nuls") + "\r\n") == replies{"501 5.5.2 Malformed PLAIN response"});
    CHECK(d.send("AUTH PLAIN =\r\n") == replies{"501 5.5.2 Malformed PLAIN response"});
    CHECK(d.send("AUTH CRAM-MD5\r\n") == replies{"504 5.5.4 Unrecognized authentication type"});
    CHECK(d.send("AUTH\r\n") == replies{"501 5.5.4 Syntax: AUTH mechanism [initial-response]"});
    CHECK(d.auths.empty());
}

TEST_CASE("AUTH refused before TLS, before EHLO, inside a transaction, when off", "[smtp][auth]") {
    server_settings plain;
    session_driver d(plain);
    d.send("EHLO c\r\n");
    CHECK(d.send("AUTH PLAIN AGEAYg==\r\n") ==
          replies{"538 5.7.11 Encryption required for requested authentication mechanism"});
    session_driver e(tls_settings());
    CHECK(e.send("AUTH PLAIN AGEAYg==\r\n") == replies{"503 5.5.1 Send EHLO first"});
    e.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
    CHECK(e.send("AUTH PLAIN AGEAYg==\r\n") == replies{"503 5.5.1 Not allowed during a mail transaction"});
    server_settings off = tls_settings();
    off.auth_available = false;
    session_driver f(off);
    f.wire.clear();
    f.send("EHLO c\r\n");
    CHECK(f.wire.find("AUTH") == std::string::npos);
    CHECK(f.send("AUTH PLAIN AGEAYg==\r\n") == replies{"502 5.5.1 AUTH not available"});
    CHECK(d.auths.empty());
    CHECK(e.auths.empty());
}

TEST_CASE("AUTH lines may be long, up to max_auth_line", "[smtp][auth][limits]") {
    session_driver d(tls_settings());
    d.send("EHLO c\r\n");
    std::string pw(3000, 'p');
    CHECK(d.send("AUTH PLAIN " + b64(std::string("\0u\0", 3) + pw) + "\r\n") ==
          replies{"235 2.7.0 Authentication successful"});
    REQUIRE(d.auths.size() == 1);
    CHECK(d.auths[0].password == pw);
    session_driver e(tls_settings());
    e.send("EHLO c\r\nAUTH LOGIN\r\n");
    CHECK(e.send(std::string(13000, 'A') + "\r\n") == replies{"500 5.5.6 Line too long"});
    CHECK(e.send("NOOP\r\n") == replies{"250 2.0.0 Ok"}); // the exchange was abandoned
}

TEST_CASE("failed AUTH counts toward the bad-command limit", "[smtp][auth][limits]") {
    server_settings s = tls_settings();
    s.max_bad_commands = 3;
    session_driver d(s);
    d.auth_ok = false;
    d.send("EHLO c\r\n");
    std::string line = "AUTH PLAIN " + b64(std::string("\0u\0p", 4)) + "\r\n";
    d.send(line);
    d.send(line);
    CHECK(d.send(line) == replies{"535 5.7.8 Authentication credentials invalid", "421 4.7.0 Too many errors"});
    CHECK(d.closed);
}

TEST_CASE("base64", "[smtp][sasl]") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_decode("Zm9vYg==").value() == "foob");
    CHECK(base64_decode("Zm9vYg").value() == "foob"); // padding optional
    CHECK(base64_decode("").value().empty());
    CHECK_FALSE(base64_decode("Zm9vY"));
    CHECK_FALSE(base64_decode("Zm9v Yg=="));
    CHECK_FALSE(base64_decode("Zh=="));   // non-zero leftover bits
    CHECK_FALSE(base64_decode("Zg=a"));
}
