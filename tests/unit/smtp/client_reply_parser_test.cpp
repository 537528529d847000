// tests/unit/smtp/client_reply_parser_test.cpp — reply_parser: multi-line, enhanced codes, errors.
#include "daemon/smtp/reply_parser.hpp"

#include <catch2/catch.hpp>

using namespace cartero::smtp;
using st = reply_parser::status;

namespace {

reply_parser::result parse_all(std::string_view in, std::size_t* consumed = nullptr) {
    reply_parser p;
    std::size_t pos = 0;
    auto r = p.take(in, pos);
    if (consumed) *consumed = pos;
    return r;
}

} // namespace

TEST_CASE("reply_parser: single and multi-line replies", "[smtp][client][reply]") {
    auto r = parse_all("250 2.1.0 Ok\r\n");
    REQUIRE(r.st == st::complete);
    CHECK(r.reply.r.code == 250);
    CHECK(r.reply.r.enhanced == "2.1.0");
    CHECK(r.reply.r.lines == std::vector<std::string>{"Ok"});
    CHECK(r.reply.verbatim == "250 2.1.0 Ok");

    r = parse_all("550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                  "550-5.1.1 Please try double-checking the recipient's email\r\n"
                  "550 5.1.1 address. https://support.example/mail/?p=NoSuchUser x1si\r\n");
    REQUIRE(r.st == st::complete);
    CHECK(r.reply.r.code == 550);
    CHECK(r.reply.r.enhanced == "5.1.1");
    REQUIRE(r.reply.r.lines.size() == 3);
    CHECK(r.reply.r.lines[1] == "Please try double-checking the recipient's email");
    CHECK(r.reply.verbatim.find("550-5.1.1 Please try") != std::string::npos);
    CHECK(r.reply.one_line().find("\r") == std::string::npos);

    r = parse_all("220\r\n"); // code without text (RFC 5321 §4.2)
    REQUIRE(r.st == st::complete);
    CHECK(r.reply.r.code == 220);
    CHECK(r.reply.r.enhanced.empty());
}

TEST_CASE("reply_parser: no enhanced code or a mismatched class", "[smtp][client][reply]") {
    auto r = parse_all("550 Requested action not taken: mailbox unavailable\r\n");
    REQUIRE(r.st == st::complete);
    CHECK(r.reply.r.enhanced.empty()); // none synthesised
    CHECK(r.reply.r.lines[0] == "Requested action not taken: mailbox unavailable");
    r = parse_all("550 2.0.0 odd\r\n"); // class must match the code's first digit
    REQUIRE(r.st == st::complete);
    CHECK(r.reply.r.enhanced.empty());
    r = parse_all("452 4.2.2x not a code\r\n");
    CHECK(r.reply.r.enhanced.empty());
}

TEST_CASE("reply_parser: incremental input, split anywhere", "[smtp][client][reply]") {
    const std::string full = "250-first\r\n250-second\r\n250 2.0.0 last\r\n";
    for (std::size_t cut = 0; cut < full.size(); ++cut) {
        reply_parser p;
        std::string buf = full.substr(0, cut);
        std::size_t pos = 0;
        auto r = p.take(buf, pos);
        CHECK(r.st == st::need_more);
        buf += full.substr(cut);
        r = p.take(buf, pos);
        REQUIRE(r.st == st::complete);
        CHECK(r.reply.r.lines.size() == 3);
        CHECK(pos == full.size());
    }
}

TEST_CASE("reply_parser: two replies back to back (pipelining)", "[smtp][client][reply]") {
    reply_parser p;
    std::string in = "250 2.1.0 Ok\r\n550 5.1.1 No\r\n354 go\r\n";
    std::size_t pos = 0;
    CHECK(p.take(in, pos).reply.r.code == 250);
    CHECK(p.take(in, pos).reply.r.code == 550);
    CHECK(p.take(in, pos).reply.r.code == 354);
    CHECK(p.take(in, pos).st == st::need_more);
}

TEST_CASE("reply_parser: protocol errors", "[smtp][client][reply]") {
    CHECK(parse_all("250-a\r\n251 b\r\n").st == st::error);       // mixed codes
    CHECK(parse_all("hello\r\n").st == st::error);                 // not a code
    CHECK(parse_all("25 short\r\n").st == st::error);
    CHECK(parse_all("250x\r\n").st == st::error);
    CHECK(parse_all("650 bad class\r\n").st == st::error);
    CHECK(parse_all("2500 four digits\r\n").st == st::error);
    CHECK(parse_all("250 " + std::string(600, 'a') + "\r\n").st == st::error); // > 512
    CHECK(parse_all("250 " + std::string(600, 'a')).st == st::error); // even before its LF
    CHECK(parse_all("250 " + std::string(506, 'a') + "\r\n").st == st::complete); // 512 exactly
    std::string many;
    for (int i = 0; i < 101; ++i) many += "250-line\r\n";
    many += "250 end\r\n";
    auto r = parse_all(many);
    CHECK(r.st == st::error);
    CHECK(r.error.find("100 lines") != std::string::npos);
}

TEST_CASE("reply_parser: bare LF tolerated", "[smtp][client][reply]") {
    auto r = parse_all("250-a\n250 2.0.0 b\n");
    REQUIRE(r.st == st::complete);
    CHECK(r.reply.r.lines == std::vector<std::string>{"a", "b"});
}
