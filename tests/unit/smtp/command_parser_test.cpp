// tests/unit/smtp/command_parser_test.cpp — the command table and verb/argument splitting.
#include "daemon/smtp/command_parser.hpp"

#include <catch2/catch.hpp>

using namespace cartero::smtp;

TEST_CASE("command table lookup", "[smtp][command]") {
    for (const char* v : {"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT",
                          "HELP", "VRFY", "EXPN", "STARTTLS", "AUTH"}) {
        INFO(v);
        const command_spec* s = find_command(v);
        REQUIRE(s != nullptr);
        CHECK(s->name == v);
    }
    CHECK(find_command("ehlo") == find_command("EHLO"));
    CHECK(find_command("StartTLS")->v == verb::starttls);
    CHECK(find_command("TURN") == nullptr);
    CHECK(find_command("") == nullptr);
    CHECK(find_command("MAILX") == nullptr);
    CHECK(find_command("AUTH")->tls == tls_rule::needs_tls);
    CHECK(find_command("STARTTLS")->tls == tls_rule::before_tls);
    CHECK(find_command("MAIL")->allowed == st_helo);
    CHECK((find_command("RCPT")->allowed & st_bdat) == 0);
    CHECK_FALSE(find_command("NOOP")->counts_bad);
    CHECK(find_command("RCPT")->limit == line_class::mail_rcpt);
}

TEST_CASE("command line splitting", "[smtp][command]") {
    auto c = parse_command_line("MAIL FROM:<a@b> SIZE=1  ");
    CHECK(c.verb_text == "MAIL");
    CHECK(c.args == "FROM:<a@b> SIZE=1");
    REQUIRE(c.spec);
    CHECK(c.spec->v == verb::mail);
    c = parse_command_line("quit");
    CHECK(c.args.empty());
    CHECK(c.spec->v == verb::quit);
    c = parse_command_line("EHLO   host");
    CHECK(c.args == "host");
    c = parse_command_line("X-CMD a");
    CHECK(c.spec == nullptr);
    CHECK(line_class_for("mail FROM") == line_class::mail_rcpt);
    CHECK(line_class_for("AUTH ") == line_class::auth);
    CHECK(line_class_for("AUTHX") == line_class::command);
    CHECK(line_class_for("NO") == line_class::command);
}
