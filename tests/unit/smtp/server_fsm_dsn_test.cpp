// tests/unit/smtp/server_fsm_dsn_test.cpp — server_fsm: RFC 3461 DSN parameters and xtext.
#include "daemon/smtp/esmtp_params.hpp"
#include "session_driver.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::smtp;
using namespace cartero::smtp::test;

namespace {

std::string cmd(session_driver& d, std::string_view line) {
    auto r = d.send(std::string(line) + "\r\n");
    return r.empty() ? std::string() : r.back();
}

} // namespace

TEST_CASE("xtext decoding (RFC 3461 §4)", "[smtp][dsn]") {
    CHECK(xtext_decode("abc") == std::optional<std::string>("abc"));
    CHECK(xtext_decode("Q123+20x+2B+3D") == std::optional<std::string>("Q123 x+="));
    CHECK(xtext_decode("a+2b") == std::optional<std::string>("a+")); // lower case tolerated
    CHECK(xtext_decode("") == std::optional<std::string>(""));
    CHECK_FALSE(xtext_decode("a+2"));
    CHECK_FALSE(xtext_decode("a+"));
    CHECK_FALSE(xtext_decode("a+G0"));
    CHECK_FALSE(xtext_decode("a=b"));
    CHECK_FALSE(xtext_decode("a b"));
    CHECK_FALSE(xtext_decode("\xc3\xa9"));
}

TEST_CASE("NOTIFY and ORCPT values", "[smtp][dsn]") {
    CHECK(parse_notify("never") == std::optional<std::string>("NEVER"));
    CHECK(parse_notify("failure,Delay") == std::optional<std::string>("FAILURE,DELAY"));
    CHECK(parse_notify("SUCCESS,FAILURE,DELAY") ==
          std::optional<std::string>("SUCCESS,FAILURE,DELAY"));
    CHECK_FALSE(parse_notify(""));
    CHECK_FALSE(parse_notify("NEVER,FAILURE"));
    CHECK_FALSE(parse_notify("FAILURE,FAILURE"));
    CHECK_FALSE(parse_notify("FAILURE,"));
    CHECK_FALSE(parse_notify("SOMETIMES"));
    CHECK(parse_orcpt("rfc822;a+2Bb@example.net") == std::optional<std::string>("a+b@example.net"));
    CHECK(parse_orcpt("RFC822;x@y") == std::optional<std::string>("x@y"));
    CHECK(parse_orcpt("utf-8;j\\x{F6}@example.net") ==
          std::optional<std::string>("j\xc3\xb6@example.net"));
    CHECK_FALSE(parse_orcpt("x400;a@b"));
    CHECK_FALSE(parse_orcpt("rfc822;"));
    CHECK_FALSE(parse_orcpt("a@b"));
    CHECK_FALSE(parse_orcpt("rfc822;a+zz@b"));
    CHECK_FALSE(parse_orcpt("rfc822;" + std::string(500, 'a')));
}

TEST_CASE("EHLO advertises DSN; RET and ENVID reach the envelope", "[smtp][fsm][dsn]") {
    session_driver d;
    d.wire.clear();
    cmd(d, "EHLO c");
    CHECK(d.wire.find("250-DSN\r\n") != std::string::npos);
    CHECK(cmd(d, "MAIL FROM:<a@b.example> RET=hdrs ENVID=QQ+2B1") == "250 2.1.0 Sender ok");
    CHECK(cmd(d, "RCPT TO:<r@c.example> NOTIFY=failure,delay ORCPT=rfc822;R+40x@c.example") ==
          "250 2.1.5 Recipient ok");
    CHECK(cmd(d, "RCPT TO:<s@c.example> NOTIFY=NEVER") == "250 2.1.5 Recipient ok");
    CHECK(cmd(d, "RCPT TO:<t@c.example>") == "250 2.1.5 Recipient ok");
    REQUIRE(d.rcpt_actions.size() == 3);
    CHECK(d.rcpt_actions[0].notify == "FAILURE,DELAY");
    CHECK(d.rcpt_actions[0].orcpt == "R@x@c.example");
    CHECK(d.rcpt_actions[1].notify == "NEVER");
    CHECK(d.rcpt_actions[1].orcpt.empty());
    CHECK(d.rcpt_actions[2].notify.empty());
    d.send("DATA\r\nx\r\n.\r\n");
    REQUIRE(d.envelopes.size() == 1);
    CHECK(d.envelopes[0].dsn_ret == "HDRS");
    CHECK(d.envelopes[0].dsn_envid == "QQ+1");
    // The next transaction starts clean.
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "250 2.1.0 Sender ok");
    cmd(d, "RCPT TO:<r@c.example>");
    d.send("DATA\r\nx\r\n.\r\n");
    REQUIRE(d.envelopes.size() == 2);
    CHECK(d.envelopes[1].dsn_ret.empty());
    CHECK(d.envelopes[1].dsn_envid.empty());
}

TEST_CASE("bad or repeated DSN parameters are 501 5.5.4", "[smtp][fsm][dsn]") {
    session_driver d;
    cmd(d, "EHLO c");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> RET=NONE") == "501 5.5.4 Syntax: RET=FULL or RET=HDRS");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> RET=FULL RET=HDRS") ==
          "501 5.5.4 Duplicate RET parameter");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> ENVID=a ENVID=b") ==
          "501 5.5.4 Duplicate ENVID parameter");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> ENVID=a+ZZ") ==
          "501 5.5.4 Syntax: ENVID=<xtext, at most 100 characters>");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> ENVID=" + std::string(101, 'x')) ==
          "501 5.5.4 Syntax: ENVID=<xtext, at most 100 characters>");
    CHECK(d.senders.empty());
    CHECK(cmd(d, "MAIL FROM:<a@b.example> ENVID=" + std::string(100, 'x')) ==
          "250 2.1.0 Sender ok");
    CHECK(cmd(d, "RCPT TO:<r@c.example> NOTIFY=NEVER,SUCCESS") ==
          "501 5.5.4 Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY (any of)");
    CHECK(cmd(d, "RCPT TO:<r@c.example> NOTIFY=DELAY NOTIFY=FAILURE") ==
          "501 5.5.4 Duplicate NOTIFY parameter");
    CHECK(cmd(d, "RCPT TO:<r@c.example> ORCPT=x400;abc") ==
          "501 5.5.4 Syntax: ORCPT=rfc822;<xtext address>");
    CHECK(cmd(d, "RCPT TO:<r@c.example> ORCPT=rfc822;a@b ORCPT=rfc822;c@d") ==
          "501 5.5.4 Duplicate ORCPT parameter");
    CHECK(d.recipients.empty());
}
