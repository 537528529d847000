// tests/unit/mailauth/dkim_canon_test.cpp — RFC 6376 §3.4 canonicalisation, vectors written by hand
// from the example in §3.4.5, plus the empty-body and trailing-empty-line rules.
#include "daemon/mailauth/dkim_canon.hpp"
#include "daemon/mailauth/dkim_tags.hpp"

#include <catch2/catch.hpp>

using namespace cartero::mailauth;

namespace {

// RFC 6376 §3.4.5, the example message (<SP>, <HTAB>, <CRLF> spelled out there).
const std::string example = "A: X\r\n"
                            "B : Y\t\r\n"
                            "\tZ  \r\n"
                            "\r\n"
                            " C \r\n"
                            "D \t E\r\n"
                            "\r\n"
                            "\r\n";

std::string headers(const message_view& m, canon c) {
    std::string out;
    for (const auto& h : m.headers)
        canon_header(out, h.raw, c);
    return out;
}

std::string hex(const sha256_digest& d) {
    static const char* x = "0123456789abcdef";
    std::string out;
    for (unsigned char b : d) {
        out += x[b >> 4];
        out += x[b & 15];
    }
    return out;
}

} // namespace

TEST_CASE("split_message: fields, folds and the body") {
    auto m = split_message(example);
    REQUIRE(m.well_formed);
    REQUIRE(m.headers.size() == 2);
    CHECK(m.headers[0].name == "A");
    CHECK(m.headers[0].raw == "A: X");
    CHECK(m.headers[1].name == "B");
    CHECK(m.headers[1].raw == "B : Y\t\r\n\tZ  ");
    CHECK(m.headers[1].value() == " Y\t\r\n\tZ  ");
    CHECK(m.body == " C \r\nD \t E\r\n\r\n\r\n");

    auto none = split_message("Subject: x\r\n");
    CHECK(none.headers.size() == 1);
    CHECK(none.body.empty());
    CHECK_FALSE(split_message("no colon here\r\n\r\nbody").well_formed);
}

TEST_CASE("RFC 6376 §3.4.5 example: relaxed") {
    auto m = split_message(example);
    CHECK(headers(m, canon::relaxed) == "a:X\r\nb:Y Z\r\n");
    CHECK(canon_body(m.body, canon::relaxed) == " C\r\nD E\r\n");
}

TEST_CASE("RFC 6376 §3.4.5 example: simple") {
    auto m = split_message(example);
    CHECK(headers(m, canon::simple) == "A: X\r\nB : Y\t\r\n\tZ  \r\n");
    CHECK(canon_body(m.body, canon::simple) == " C \r\nD \t E\r\n");
}

TEST_CASE("empty bodies and trailing empty lines") {
    // §3.4.3: simple turns an empty body into one CRLF; §3.4.4 (errata 1384): relaxed leaves it
    // empty.
    CHECK(canon_body("", canon::simple) == "\r\n");
    CHECK(canon_body("", canon::relaxed) == "");
    CHECK(canon_body("\r\n\r\n\r\n", canon::simple) == "\r\n");
    CHECK(canon_body("\r\n\r\n\r\n", canon::relaxed) == "");
    CHECK(canon_body(" \t\r\n \r\n", canon::relaxed) == ""); // whitespace-only lines are empty
    CHECK(canon_body(" \t\r\n \r\n", canon::simple) == " \t\r\n \r\n");
    // empty lines inside the body stay; only the trailing ones go
    CHECK(canon_body("a\r\n\r\nb\r\n\r\n", canon::simple) == "a\r\n\r\nb\r\n");
    // a last line without CRLF gets one
    CHECK(canon_body("a\r\nb", canon::simple) == "a\r\nb\r\n");
    CHECK(canon_body("a  b \t", canon::relaxed) == "a b\r\n");

    // the empty body's hash: SHA-256 of "\r\n" (simple) and of "" (relaxed, the well-known
    // e3b0c442... value)
    CHECK(hex(hash_body("", canon::relaxed).digest) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256 crlf;
    crlf.update("\r\n");
    CHECK(hash_body("", canon::simple).digest == crlf.finish());
    sha256 empty;
    CHECK(hash_body("", canon::relaxed).digest == empty.finish());
}

TEST_CASE("l= limits what is hashed, not what is counted") {
    std::string body = "line one\r\nline two\r\n";
    auto full = hash_body(body, canon::simple);
    CHECK(full.length == body.size());
    auto part = hash_body(body + "appended\r\n", canon::simple, body.size());
    CHECK(part.digest == full.digest);
    CHECK(part.length == body.size() + 10);
    sha256 first5;
    first5.update("line ");
    CHECK(hash_body(body, canon::relaxed, 5).digest == first5.finish());
    // l= past the end hashes the whole body
    CHECK(hash_body(body, canon::simple, 10000).digest == full.digest);
}

TEST_CASE("relaxed header details") {
    std::string out;
    canon_header(out, "SUBJECT \t:  Hello \t World\r\n  again  ", canon::relaxed);
    CHECK(out == "subject:Hello World again\r\n");
    out.clear();
    canon_header(out, "X-Empty:", canon::relaxed);
    CHECK(out == "x-empty:\r\n");
    out.clear();
    canon_header(out, "X-Empty: \r\n ", canon::relaxed);
    CHECK(out == "x-empty:\r\n");
}

TEST_CASE("hash_signed_headers picks instances bottom-up and ignores missing ones") {
    auto m = split_message("From: a\r\nTo: x\r\nFrom: b\r\n\r\n");
    sha256 got;
    hash_signed_headers(got, m, {"from", "from", "from", "cc", "to"}, canon::relaxed);
    sha256 want;
    want.update("from:b\r\nfrom:a\r\nto:x\r\n");
    CHECK(got.finish() == want.finish());
}

TEST_CASE("strip_b_value removes b='s value only") {
    CHECK(strip_b_value("DKIM-Signature: a=x; bh=abc; b=de\r\n f==; t=1") ==
          "DKIM-Signature: a=x; bh=abc; b=; t=1");
    CHECK(strip_b_value("DKIM-Signature: b = xyz ;d=e") == "DKIM-Signature: b =;d=e");
    CHECK(strip_b_value("DKIM-Signature: v=1; b=\r\n AAAA") == "DKIM-Signature: v=1; b=");
}

TEST_CASE("tag lists") {
    auto t = tag_list::parse(" v = 1 ;a=rsa-sha256;\r\n h=from : to ; ");
    REQUIRE(t);
    CHECK(*t->find("v") == "1");
    CHECK(*t->find("h") == "from : to");
    CHECK(split_trimmed(*t->find("h"), ':') == std::vector<std::string>{"from", "to"});
    CHECK_FALSE(tag_list::parse("v=1; v=1"));  // duplicate
    CHECK_FALSE(tag_list::parse("v=1;; a=b")); // empty tag-spec in the middle
    CHECK_FALSE(tag_list::parse("v"));         // no '='
    CHECK_FALSE(tag_list::parse("1v=2"));      // name must start with a letter
    CHECK(tag_list::parse("p="));              // empty value is fine (revoked key)
}
