// tests/unit/bounce/dsn_parser_test.cpp — parsing hand-written bounce samples (tests/unit/bounce/samples).
#include "daemon/bounce/dsn_parser.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace cartero::bounce;

namespace {

std::string sample(const char* name) {
    auto path = std::filesystem::path(__FILE__).parent_path() / "samples" / name;
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string crlf(const std::string& lf) {
    std::string out;
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

} // namespace

TEST_CASE("dsn_parser: Postfix-style DSN", "[bounce][parser]") {
    for (const std::string& m : {sample("postfix.eml"), crlf(sample("postfix.eml"))}) {
        auto b = parse_bounce(m);
        CHECK(b.is_bounce);
        CHECK(b.is_dsn);
        CHECK(b.confidence == bounce_confidence::high);
        CHECK(b.reporting_mta == "mx.example.net");
        REQUIRE(b.recipients.size() == 1);
        auto& r = b.recipients[0];
        CHECK(r.final_recipient == "nobody@example.net");
        CHECK(r.original_recipient == "nobody@example.net");
        CHECK(r.action == "failed");
        CHECK(r.status == "5.1.1");
        CHECK(r.remote_mta == "mail.example.net");
        CHECK(r.diagnostic.rfind("550 5.1.1 <nobody@example.net>: Recipient address", 0) == 0);
        CHECK(r.diagnostic.find("virtual mailbox table") != std::string::npos);
        CHECK(r.cls.cls == bounce_class::invalid_recipient);
        CHECK(r.cls.hard);
        CHECK(b.original_message_id == "<nl-2026-11.77@news.example.org>");
        CHECK(b.verp_token == "01jd2k3m4n5p6q7r-42-abcdefghij");
    }
}

TEST_CASE("dsn_parser: Exchange-style DSN, two recipients", "[bounce][parser]") {
    auto b = parse_bounce(sample("exchange.eml"));
    CHECK(b.is_bounce);
    CHECK(b.reporting_mta == "AM0PR01MB1234.eurprd01.prod.exchangelabs.example");
    REQUIRE(b.recipients.size() == 2);
    CHECK(b.recipients[0].final_recipient == "finance@contoso.example");
    CHECK(b.recipients[0].status == "5.1.10");
    CHECK(b.recipients[0].cls.cls == bounce_class::invalid_recipient);
    CHECK(b.recipients[1].final_recipient == "ceo@contoso.example");
    CHECK(b.recipients[1].original_recipient.empty());
    CHECK(b.recipients[1].cls.cls == bounce_class::mailbox_full);
    CHECK(b.original_message_id == "<inv-2026-118@example.org>");
    // From the original's Return-Path (the bounce's To has it too).
    CHECK(b.verp_token == "01jd2k3m4n5p6q7r-43-bcdefghijk");
}

TEST_CASE("dsn_parser: Gmail-style DSN, folded multi-line diagnostic", "[bounce][parser]") {
    auto b = parse_bounce(sample("gmail.eml"),
                          {"bounces+01jd2k3m4n5p6q7r-44-cdefghijkl@news.example.org", "bounces"});
    CHECK(b.is_bounce);
    REQUIRE(b.recipients.size() == 1);
    auto& r = b.recipients[0];
    CHECK(r.final_recipient == "someone.missing@gmail.example");
    CHECK(r.diagnostic.rfind("550-5.1.1 The email account", 0) == 0);
    CHECK(r.diagnostic.find("gsmtp") != std::string::npos);
    CHECK(r.cls.cls == bounce_class::invalid_recipient);
    CHECK(b.original_message_id == "<promo-55@news.example.org>");
    CHECK(b.verp_token == "01jd2k3m4n5p6q7r-44-cdefghijkl");
}

TEST_CASE("dsn_parser: non-standard plain-text bounce (low confidence)", "[bounce][parser]") {
    auto b = parse_bounce(sample("plain_text.eml"));
    CHECK(b.is_bounce);
    CHECK(!b.is_dsn);
    CHECK(b.confidence == bounce_confidence::low);
    REQUIRE(b.recipients.size() == 1);
    CHECK(b.recipients[0].final_recipient == "jdoe@oldhost.example");
    CHECK(b.recipients[0].status == "5.1.1");
    CHECK(b.recipients[0].action == "failed");
    CHECK(b.recipients[0].cls.cls == bounce_class::invalid_recipient);
    CHECK(b.recipients[0].cls.hard);
    CHECK(b.original_message_id == "<nl-2026-11.78@news.example.org>");
    CHECK(b.verp_token == "01jd2k3m4n5p6q7r-45-defghijklm");
}

TEST_CASE("dsn_parser: ordinary mail is not a bounce", "[bounce][parser]") {
    auto b = parse_bounce(sample("not_bounce.eml"));
    CHECK(!b.is_bounce);
    CHECK(!b.is_dsn);
    CHECK(b.recipients.empty());
    // Garbage never throws.
    CHECK(!parse_bounce("").is_bounce);
    CHECK(!parse_bounce("Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\n").is_bounce);
    CHECK(!parse_bounce(std::string(1000, '\n')).is_bounce);
}

TEST_CASE("dsn_parser: a success report is a DSN but not a bounce", "[bounce][parser]") {
    std::string m = "From: MAILER-DAEMON@mx.example.net\r\n"
                    "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
                    "--b\r\nContent-Type: text/plain\r\n\r\ndelivered\r\n"
                    "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
                    "Reporting-MTA: dns; mx.example.net\r\n\r\n"
                    "Final-Recipient: rfc822; a@example.net\r\nAction: delivered\r\n"
                    "Status: 2.0.0\r\n\r\n--b--\r\n";
    auto b = parse_bounce(m);
    CHECK(b.is_dsn);
    CHECK(!b.is_bounce);
    REQUIRE(b.recipients.size() == 1);
    CHECK(b.recipients[0].action == "delivered");
}
