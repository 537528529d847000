// tests/unit/bounce/dsn_builder_test.cpp — DSN builder, checked by Python's email package and our parser.
#include "daemon/bounce/dsn_builder.hpp"
#include "daemon/bounce/dsn_parser.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace cartero::bounce;

namespace {

const char* const original = "Return-Path: <news@example.org>\r\n"
                             "From: News <news@example.org>\r\n"
                             "To: a@example.net, b@example.net\r\n"
                             "Subject: November\r\n"
                             "Message-ID: <nl-77@example.org>\r\n"
                             "\r\n"
                             "SECRET BODY line one\r\n"
                             ".leading dot line\r\n";

dsn_request base_request() {
    using namespace std::chrono;
    dsn_request q;
    q.reporting_mta = "out1.example.org";
    q.envelope_sender = "news@example.org";
    q.queue_id = "01JD2K3M4N5P6Q7R";
    q.arrival_date = cartero::bounce::sys_time{} + seconds(1795000000);
    q.now = q.arrival_date + minutes(3);
    q.original = original;
    dsn_recipient a;
    a.final_recipient = "a@example.net";
    a.original_recipient = "A@example.net";
    a.remote_mta = "mx.example.net";
    a.diagnostic = "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                   "550 5.1.1 Please check the address. " + std::string(300, 'x');
    a.reply_code = 550;
    a.last_attempt = q.now;
    a.reason = "invalid recipient";
    dsn_recipient b;
    b.final_recipient = "b@example.net";
    b.status = "5.2.2";
    b.remote_mta = "mx.example.net";
    b.diagnostic = "552 5.2.2 Mailbox full";
    b.last_attempt = q.now;
    q.recipients = {a, b};
    return q;
}

// Runs tests/unit/bounce/check_dsn.py on the message; returns its exit status.
int python_check(const std::string& dsn, const std::string& expect_json) {
    auto dir = std::filesystem::temp_directory_path();
    auto stem = "cartero-dsn-" + std::to_string(::getpid()) + "-" +
                std::to_string(reinterpret_cast<std::uintptr_t>(&dsn));
    auto msg = dir / (stem + ".eml"), exp = dir / (stem + ".json");
    std::ofstream(msg, std::ios::binary) << dsn;
    std::ofstream(exp) << expect_json;
    auto script = std::filesystem::path(__FILE__).parent_path() / "check_dsn.py";
    std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + msg.string() + "' '" +
                      exp.string() + "'";
    int rc = std::system(cmd.c_str());
    std::filesystem::remove(msg);
    std::filesystem::remove(exp);
    return rc;
}

} // namespace

TEST_CASE("dsn_builder: failure DSN with headers only (RET=HDRS)", "[bounce][dsn]") {
    dsn_request q = base_request();
    q.dsn_ret = "HDRS";
    auto d = build_dsn(q);
    REQUIRE(d);
    const std::string& m = d.value.message;
    CHECK(m.find("\nSECRET BODY") == std::string::npos);
    CHECK(m.find("Subject: Undelivered Mail Returned to Sender\r\n") != std::string::npos);
    CHECK(m.find("X-Cartero-Queue-ID: 01JD2K3M4N5P6Q7R\r\n") != std::string::npos);
    CHECK(m.find("References: <nl-77@example.org>\r\n") != std::string::npos);
    CHECK(!d.value.eight_bit);
    CHECK(python_check(m, R"J({"to": "news@example.org",
        "subject": "Undelivered Mail Returned to Sender", "original": "text/rfc822-headers",
        "original_message_id": "<nl-77@example.org>",
        "recipients": [
          {"final": "a@example.net", "original": "A@example.net", "action": "failed",
           "status": "5.1.1", "diag_contains": "550 5.1.1 Please check the address."},
          {"final": "b@example.net", "action": "failed", "status": "5.2.2",
           "diag_contains": "552 5.2.2 Mailbox full"}]})J") == 0);
    // Our own parser reads it back.
    auto p = parse_bounce(m);
    CHECK(p.is_bounce);
    REQUIRE(p.recipients.size() == 2);
    CHECK(p.recipients[0].final_recipient == "a@example.net");
    CHECK(p.recipients[0].original_recipient == "A@example.net");
    CHECK(p.recipients[0].cls.cls == bounce_class::invalid_recipient);
    CHECK(p.recipients[1].cls.cls == bounce_class::mailbox_full);
    CHECK(p.original_message_id == "<nl-77@example.org>");
    CHECK(p.reporting_mta == "out1.example.org");
}

TEST_CASE("dsn_builder: full original by default, headers when large", "[bounce][dsn]") {
    dsn_request q = base_request();
    auto d = build_dsn(q);
    REQUIRE(d);
    CHECK(d.value.message.find("\r\nSECRET BODY line one\r\n.leading dot line\r\n") !=
          std::string::npos);
    CHECK(python_check(d.value.message, R"J({"to": "news@example.org",
        "subject": "Undelivered Mail Returned to Sender", "original": "message/rfc822",
        "original_message_id": "<nl-77@example.org>",
        "recipients": [{"final": "a@example.net", "action": "failed", "status": "5.1.1"},
                       {"final": "b@example.net", "action": "failed", "status": "5.2.2"}]})J") == 0);
    std::string big = std::string(original) + std::string(300 * 1024, 'y') + "\r\n";
    q.original = big;
    q.dsn_ret = "FULL";
    d = build_dsn(q);
    REQUIRE(d);
    CHECK(d.value.message.find("Content-Type: text/rfc822-headers") != std::string::npos);
    CHECK(d.value.message.size() < 20000);
}

TEST_CASE("dsn_builder: no original (unreadable body): said so, no empty attachment", "[bounce][dsn]") {
    dsn_request q = base_request();
    q.original = {};
    auto d = build_dsn(q);
    REQUIRE(d);
    CHECK(d.value.message.find("could not be read and is not attached") != std::string::npos);
    CHECK(d.value.message.find("message/rfc822") == std::string::npos);
    CHECK(d.value.message.find("text/rfc822-headers") == std::string::npos);
    CHECK(python_check(d.value.message, R"J({"to": "news@example.org",
        "subject": "Undelivered Mail Returned to Sender", "original": null,
        "recipients": [{"final": "a@example.net", "action": "failed", "status": "5.1.1"},
                       {"final": "b@example.net", "action": "failed", "status": "5.2.2"}]})J") == 0);
}

TEST_CASE("dsn_builder: delay DSN", "[bounce][dsn]") {
    dsn_request q = base_request();
    q.recipients.resize(1);
    q.recipients[0].action = dsn_action::delayed;
    q.recipients[0].diagnostic = "451 4.7.0 Try again later";
    q.recipients[0].status.clear();
    q.recipients[0].will_retry_until = q.now + std::chrono::hours(24 * 5);
    auto d = build_dsn(q);
    REQUIRE(d);
    CHECK(d.value.message.find("Will-Retry-Until: ") != std::string::npos);
    CHECK(python_check(d.value.message, R"J({"to": "news@example.org",
        "subject": "Delivery Status Notification (Delay)", "original": "message/rfc822",
        "recipients": [{"final": "a@example.net", "action": "delayed", "status": "4.7.0",
                        "diag_contains": "451 4.7.0 Try again later"}]})J") == 0);
}

TEST_CASE("dsn_builder: success DSN (NOTIFY=SUCCESS), delivered and relayed", "[bounce][dsn]") {
    dsn_request q = base_request();
    q.envid = "abc";
    q.dsn_ret = "HDRS";
    q.recipients[0].action = dsn_action::delivered;
    q.recipients[0].status.clear();
    q.recipients[0].reply_code = 250;
    q.recipients[0].diagnostic = "250 2.0.0 Ok: queued as 4Xyz";
    q.recipients[0].reason.clear();
    q.recipients[1].action = dsn_action::relayed;
    q.recipients[1].status.clear();
    q.recipients[1].diagnostic = "250 2.1.5 Ok";
    auto d = build_dsn(q);
    REQUIRE(d);
    CHECK(d.value.message.find("Original-Envelope-Id: abc\r\n") != std::string::npos);
    CHECK(python_check(d.value.message, R"J({"to": "news@example.org",
        "subject": "Successful Mail Delivery Report", "original": "text/rfc822-headers",
        "recipients": [{"final": "a@example.net", "action": "delivered", "status": "2.0.0"},
                       {"final": "b@example.net", "action": "relayed", "status": "2.0.0"}]})J") == 0);
    auto p = parse_bounce(d.value.message);
    CHECK(p.is_dsn);
    CHECK_FALSE(p.is_bounce);
}

TEST_CASE("dsn_builder: refusals and line limits", "[bounce][dsn]") {
    dsn_request q = base_request();
    q.envelope_sender = "";
    auto d = build_dsn(q);
    CHECK(!d);
    CHECK(d.error.find("null envelope sender") != std::string::npos);
    q = base_request();
    q.recipients.clear();
    CHECK(!build_dsn(q));
    // An endless diagnostic without spaces still gives lines ≤ 998 octets.
    q = base_request();
    q.recipients[0].diagnostic = "550 " + std::string(5000, 'z');
    d = build_dsn(q);
    REQUIRE(d);
    std::size_t start = 0, longest = 0;
    const std::string& m = d.value.message;
    while (start < m.size()) {
        std::size_t e = m.find("\r\n", start);
        REQUIRE(e != std::string::npos);
        longest = std::max(longest, e - start);
        CHECK(m.substr(start, e - start).find('\n') == std::string::npos);
        start = e + 2;
    }
    CHECK(longest <= 998);
    // The boundary appears only as delimiters.
    std::size_t bpos = m.find("boundary=\"");
    std::string boundary = m.substr(bpos + 10, m.find('"', bpos + 10) - bpos - 10);
    std::size_t count = 0;
    for (std::size_t p = m.find(boundary); p != std::string::npos; p = m.find(boundary, p + 1)) ++count;
    CHECK(count == 5); // header + 3 delimiters + the close delimiter
}
