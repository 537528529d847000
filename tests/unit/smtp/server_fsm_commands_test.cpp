// tests/unit/smtp/server_fsm_commands_test.cpp — server_fsm: every command in every relevant state.
#include "session_driver.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::smtp;
using namespace cartero::smtp::test;

namespace {

// Sends one command line, returns the last reply it produced ("" if none).
std::string cmd(session_driver& d, std::string_view line) {
    auto r = d.send(std::string(line) + "\r\n");
    return r.empty() ? std::string() : r.back();
}

server_settings plain_settings() {
    server_settings s;
    s.hostname = "mx.example.test";
    return s;
}

} // namespace

TEST_CASE("greeting and EHLO reply", "[smtp][fsm]") {
    session_driver d(plain_settings());
    REQUIRE(d.replies.size() == 1);
    CHECK(d.replies[0] == "220 mx.example.test ESMTP Cartero");

    d.wire.clear();
    CHECK(cmd(d, "EHLO client.example") == "250 CHUNKING");
    CHECK(d.wire == "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
                    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n"
                    "250 CHUNKING\r\n");
    REQUIRE(d.helos.size() == 1);
    CHECK(d.helos[0] == "client.example");
}

TEST_CASE("EHLO advertises STARTTLS before TLS and AUTH only inside TLS", "[smtp][fsm][tls]") {
    server_settings s = plain_settings();
    s.tls_available = true;
    session_driver d(s);
    d.wire.clear();
    cmd(d, "EHLO c");
    CHECK(d.wire.find("250 STARTTLS\r\n") != std::string::npos);
    CHECK(d.wire.find("AUTH") == std::string::npos);
    CHECK(cmd(d, "STARTTLS") == "220 2.0.0 Ready to start TLS");
    CHECK(d.fsm.tls_active());
    d.wire.clear();
    cmd(d, "EHLO c");
    CHECK(d.wire.find("STARTTLS") == std::string::npos);
    CHECK(d.wire.find("250 AUTH PLAIN LOGIN\r\n") != std::string::npos);
}

TEST_CASE("HELO and EHLO need an argument; HELO replies with one line", "[smtp][fsm]") {
    session_driver d(plain_settings());
    CHECK(cmd(d, "EHLO") == "501 5.5.4 Syntax: EHLO hostname");
    CHECK(cmd(d, "HELO   ") == "501 5.5.4 Syntax: HELO hostname");
    CHECK(d.helos.empty());
    d.wire.clear();
    CHECK(cmd(d, "helo client") == "250 mx.example.test");
    CHECK(d.wire == "250 mx.example.test\r\n");
}

TEST_CASE("a refused EHLO gets the policy reply and leaves the session un-greeted", "[smtp][fsm]") {
    session_driver d;
    d.helo_reply = reply(550, "5.7.1", "Go away");
    CHECK(cmd(d, "EHLO bad") == "550 5.7.1 Go away");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "503 5.5.1 Send EHLO/HELO first");
}

TEST_CASE("simple commands", "[smtp][fsm]") {
    session_driver d;
    CHECK(cmd(d, "NOOP") == "250 2.0.0 Ok");
    CHECK(cmd(d, "NOOP anything at all") == "250 2.0.0 Ok");
    CHECK(cmd(d, "RSET") == "250 2.0.0 Ok");
    CHECK(cmd(d, "RSET x") == "501 5.5.4 Syntax: RSET takes no argument");
    CHECK(starts_with(cmd(d, "HELP"), "214 2.0.0 "));
    CHECK(cmd(d, "VRFY root") == cmd(d, "VRFY nosuchuser"));
    CHECK(starts_with(cmd(d, "VRFY postmaster"), "252 2.5.0 "));
    CHECK(cmd(d, "VRFY") == "501 5.5.4 Syntax: VRFY address");
    CHECK(cmd(d, "EXPN staff") == "502 5.5.1 EXPN not available");
    CHECK(cmd(d, "FOO bar") == "500 5.5.1 Command unrecognized");
    CHECK(cmd(d, "") == "500 5.5.1 Command unrecognized");
    CHECK(cmd(d, "noop") == "250 2.0.0 Ok");
    CHECK_FALSE(d.closed);
    CHECK(cmd(d, "QUIT") == "221 2.0.0 Bye");
    CHECK(d.closed);
    // After close, next() keeps returning close.
    CHECK(d.fsm.next().kind == action_kind::close);
    d.fsm.feed("NOOP\r\n");
    CHECK(d.fsm.next().kind == action_kind::close);
}

TEST_CASE("bad sequence of commands", "[smtp][fsm]") {
    session_driver d;
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "503 5.5.1 Send EHLO/HELO first");
    CHECK(cmd(d, "RCPT TO:<a@b.example>") == "503 5.5.1 Need MAIL command");
    CHECK(cmd(d, "DATA") == "503 5.5.1 Need MAIL command");
    cmd(d, "EHLO c");
    CHECK(cmd(d, "RCPT TO:<a@b.example>") == "503 5.5.1 Need MAIL command");
    CHECK(cmd(d, "DATA") == "503 5.5.1 Need MAIL command");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "250 2.1.0 Sender ok");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "503 5.5.1 Nested MAIL command");
    CHECK(cmd(d, "DATA") == "503 5.5.1 Need RCPT command");
    CHECK(cmd(d, "RSET") == "250 2.0.0 Ok");
    CHECK(cmd(d, "RCPT TO:<a@b.example>") == "503 5.5.1 Need MAIL command");
    CHECK(d.fsm.bad_commands() == 8);
}

TEST_CASE("a refused recipient does not count for DATA", "[smtp][fsm]") {
    session_driver d;
    cmd(d, "EHLO c");
    cmd(d, "MAIL FROM:<a@b.example>");
    d.rcpt_reply = reply(550, "5.1.1", "No such user");
    CHECK(cmd(d, "RCPT TO:<x@y.example>") == "550 5.1.1 No such user");
    CHECK(cmd(d, "DATA") == "503 5.5.1 Need RCPT command");
    d.rcpt_reply = reply(250, "", "Ok"); // the fsm adds the enhanced code
    CHECK(cmd(d, "RCPT TO:<x@y.example>") == "250 2.1.5 Ok");
    CHECK(cmd(d, "DATA") == "354 End data with <CR><LF>.<CR><LF>");
}

TEST_CASE("MAIL parameters", "[smtp][fsm][mail]") {
    server_settings s;
    s.max_message_size = 1000;
    session_driver d(s);
    cmd(d, "EHLO c");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> SIZE=1001") ==
          "552 5.3.4 Message size exceeds fixed maximum message size");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> SIZE=abc") == "501 5.5.4 Syntax: SIZE=<octets>");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> BODY=BINARYMIME") ==
          "501 5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> SMTPUTF8=yes") == "501 5.5.4 Syntax: SMTPUTF8");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> RET=NONE") == "501 5.5.4 Syntax: RET=FULL or RET=HDRS");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> FOO=x") == "555 5.5.4 Unsupported parameter FOO");
    CHECK(cmd(d, "MAIL FROM:<a@b.example> =x") == "501 5.5.4 Syntax error in parameters");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>SIZE=1") == "501 5.5.4 Syntax: MAIL FROM:<address>");
    CHECK(cmd(d, "MAIL FROM:a@b.example") == "501 5.5.4 Syntax: MAIL FROM:<address>");
    CHECK(cmd(d, "MAIL TO:<a@b.example>") == "501 5.5.4 Syntax: MAIL FROM:<address>");
    CHECK(d.senders.empty());
    CHECK(cmd(d, "MAIL FROM: <a@b.example> size=1000 body=8bitmime SMTPUTF8 AUTH=<>") ==
          "250 2.1.0 Sender ok");
    REQUIRE(d.senders.size() == 1);
    cmd(d, "RCPT TO:<r@c.example>");
    d.send("DATA\r\nx\r\n.\r\n");
    REQUIRE(d.envelopes.size() == 1);
    const envelope& e = d.envelopes[0];
    CHECK(e.helo == "c");
    CHECK(e.mail_from.address() == "a@b.example");
    CHECK(e.body_8bitmime);
    CHECK(e.smtputf8);
    REQUIRE(e.declared_size);
    CHECK(*e.declared_size == 1000);
    REQUIRE(e.mail_params.size() == 4);
    CHECK(e.mail_params[0].keyword == "SIZE");
    CHECK(e.mail_params[1].value == "8bitmime");
}

TEST_CASE("MAIL address errors use 5.1.7, RCPT 5.1.3; UTF-8 needs SMTPUTF8", "[smtp][fsm][mail]") {
    session_driver d;
    cmd(d, "EHLO c");
    CHECK(starts_with(cmd(d, "MAIL FROM:<a..b@c.example>"), "501 5.1.7 "));
    CHECK(starts_with(cmd(d, "MAIL FROM:<Postmaster>"), "501 5.1.7 "));
    CHECK(cmd(d, "MAIL FROM:<jösé@b.example>") ==
          "553 5.6.7 Non-ASCII address requires SMTPUTF8 (RFC 6531 §3.2)");
    CHECK(cmd(d, "MAIL FROM:<>") == "250 2.1.0 Sender ok");
    REQUIRE(d.senders.size() == 1);
    CHECK(d.senders[0].null_path);
    CHECK(starts_with(cmd(d, "RCPT TO:<>"), "501 5.1.3 "));
    CHECK(starts_with(cmd(d, "RCPT TO:<a@-bad.example>"), "501 5.1.3 "));
    CHECK(cmd(d, "RCPT TO:<a@b.example> NOTIFY=SOMETIMES") ==
          "501 5.5.4 Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY (any of)");
    CHECK(cmd(d, "RCPT TO:<a@b.example> XFOO=1") == "555 5.5.4 Unsupported parameter XFOO");
    CHECK(cmd(d, "RCPT TO:<ü@b.example>") ==
          "553 5.6.7 Non-ASCII address requires SMTPUTF8 (RFC 6531 §3.2)");
    CHECK(cmd(d, "RCPT TO:<Postmaster>") == "250 2.1.5 Recipient ok");
    CHECK(cmd(d, "RCPT TO: <a@b.example>") == "250 2.1.5 Recipient ok");
    REQUIRE(d.recipients.size() == 2);
    CHECK(d.recipients[0].local == "Postmaster");
    CHECK(d.recipients[0].domain.empty());

    cmd(d, "RSET");
    CHECK(cmd(d, "MAIL FROM:<jösé@b.example> SMTPUTF8") == "250 2.1.0 Sender ok");
    CHECK(cmd(d, "RCPT TO:<ü@bü.example>") == "250 2.1.5 Recipient ok");
}

TEST_CASE("auth_required: MAIL needs AUTH first", "[smtp][fsm][auth]") {
    server_settings s = tls_settings();
    s.auth_required = true;
    session_driver d(s);
    cmd(d, "EHLO c");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "530 5.7.0 Authentication required");
    CHECK(cmd(d, "AUTH PLAIN AHVzZXIAcGFzcw==") == "235 2.7.0 Authentication successful");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "250 2.1.0 Sender ok");
}

TEST_CASE("recipient limit", "[smtp][fsm]") {
    server_settings s;
    s.max_recipients = 3;
    session_driver d(s);
    cmd(d, "EHLO c");
    cmd(d, "MAIL FROM:<a@b.example>");
    for (int i = 0; i < 3; ++i) CHECK(cmd(d, "RCPT TO:<r@c.example>") == "250 2.1.5 Recipient ok");
    CHECK(cmd(d, "RCPT TO:<r@c.example>") == "452 4.5.3 Too many recipients");
    CHECK(d.recipients.size() == 3);
    CHECK(d.fsm.bad_commands() == 0); // 4xx does not count
}

TEST_CASE("a second EHLO resets the transaction", "[smtp][fsm]") {
    session_driver d;
    cmd(d, "EHLO c");
    cmd(d, "MAIL FROM:<a@b.example>");
    cmd(d, "RCPT TO:<r@c.example>");
    cmd(d, "EHLO c2");
    CHECK(cmd(d, "DATA") == "503 5.5.1 Need MAIL command");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "250 2.1.0 Sender ok");
}

TEST_CASE("pipelined commands are answered in order from one buffer", "[smtp][fsm][pipelining]") {
    session_driver d;
    auto r = d.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r1@c.example>\r\n"
                    "RCPT TO:<bad@@c>\r\nRCPT TO:<r2@c.example>\r\nDATA\r\n"
                    "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    std::vector<std::string> want = {"250 CHUNKING",
                                     "250 2.1.0 Sender ok",
                                     "250 2.1.5 Recipient ok",
                                     "501 5.1.3 Bad recipient address: address syntax",
                                     "250 2.1.5 Recipient ok",
                                     "354 End data with <CR><LF>.<CR><LF>",
                                     "250 2.0.0 Queued",
                                     "221 2.0.0 Bye"};
    CHECK(r == want);
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == "Subject: x\r\n\r\nbody\r\n");
    CHECK(d.envelopes[0].recipients.size() == 2);
    CHECK(d.closed);
}

TEST_CASE("commands split across reads", "[smtp][fsm][pipelining]") {
    session_driver d;
    std::string all = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n"
                      "..dot\r\n.\r\nNOOP\r\n";
    for (char c : all) d.send(std::string_view(&c, 1));
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == ".dot\r\n");
    CHECK(d.last() == "250 2.0.0 Ok");
}

TEST_CASE("the transaction resets after delivery either way, HELO kept", "[smtp][fsm]") {
    session_driver d;
    d.deliver_reply = reply(451, "4.3.0", "Try later");
    d.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\nx\r\n.\r\n");
    CHECK(d.last() == "451 4.3.0 Try later");
    CHECK(cmd(d, "DATA") == "503 5.5.1 Need MAIL command");
    CHECK(cmd(d, "MAIL FROM:<a@b.example>") == "250 2.1.0 Sender ok");
}

TEST_CASE("line limits", "[smtp][fsm][limits]") {
    session_driver d;
    std::string ok(510 - 5, 'x'); // "NOOP " + 505 = 510 + CRLF = 512
    CHECK(cmd(d, "NOOP " + ok) == "250 2.0.0 Ok");
    CHECK(cmd(d, "NOOP " + ok + "x") == "500 5.5.6 Line too long");
    CHECK(cmd(d, "NOOP") == "250 2.0.0 Ok"); // resynchronised at the LF
    CHECK(d.fsm.bad_commands() == 1);

    // Too long before the LF arrives: refused at once, the rest discarded up to the LF.
    auto r = d.send(std::string(600, 'y'));
    REQUIRE(r.size() == 1);
    CHECK(r[0] == "500 5.5.6 Line too long");
    CHECK(d.send(std::string(5000, 'y')).empty());
    CHECK(d.send("MAIL FROM:<inside@long.line>\r\nNOOP\r\n") == std::vector<std::string>{"250 2.0.0 Ok"});

    // MAIL/RCPT may be longer (parameters), up to max_mail_rcpt_line.
    cmd(d, "EHLO c");
    std::string local(60, 'l');
    std::string dom = std::string(60, 'd') + "." + std::string(60, 'e') + ".example";
    std::string pad(1800, ' ');
    CHECK(cmd(d, "MAIL FROM:<" + local + "@" + dom + ">" + pad + "SIZE=10") == "250 2.1.0 Sender ok");
    CHECK(cmd(d, "RCPT TO:<r@c.example>" + std::string(2100, ' ')) == "500 5.5.6 Line too long");
}

TEST_CASE("bare LF, bare CR and NUL in command lines", "[smtp][fsm][limits]") {
    session_driver d;
    CHECK(d.send("NOOP\n") ==
          std::vector<std::string>{"500 5.5.2 Syntax error: lines must end with <CR><LF> (RFC 5321 §2.3.8)"});
    CHECK(cmd(d, std::string("NO\0OP", 5)) == "501 5.5.4 Syntax error: invalid character in command");
    CHECK(cmd(d, "NOOP\rRSET") == "501 5.5.4 Syntax error: invalid character in command");
    CHECK(cmd(d, "NOOP") == "250 2.0.0 Ok");
}

TEST_CASE("bad-command limit closes with 421", "[smtp][fsm][limits]") {
    server_settings s;
    s.max_bad_commands = 5;
    session_driver d(s);
    for (int i = 0; i < 4; ++i) CHECK(cmd(d, "BOGUS") == "500 5.5.1 Command unrecognized");
    CHECK_FALSE(d.closed);
    CHECK(cmd(d, "NOOP") == "250 2.0.0 Ok"); // good commands do not reset the count
    auto r = d.send("BOGUS\r\nNOOP\r\n");
    CHECK(r == std::vector<std::string>{"500 5.5.1 Command unrecognized", "421 4.7.0 Too many errors"});
    CHECK(d.closed);
    CHECK(d.fsm.bad_commands() == 5);
}

TEST_CASE("shutdown and eof", "[smtp][fsm]") {
    {
        session_driver d;
        d.fsm.shutdown(reply(421, "4.3.2", "Service shutting down"));
        auto r = d.run();
        CHECK(r == std::vector<std::string>{"421 4.3.2 Service shutting down"});
        CHECK(d.closed);
    }
    {
        session_driver d;
        d.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\npartial\r\n");
        d.fsm.eof();
        d.fsm.feed(".\r\n");
        CHECK(d.fsm.next().kind == action_kind::close);
        CHECK(d.fsm.next().kind == action_kind::close);
        CHECK(d.count(action_kind::deliver) == 0);
    }
}

TEST_CASE("result calls out of order are contract violations", "[smtp][fsm]") {
    session_driver d;
    CHECK_THROWS_AS(d.fsm.sender_result(reply(250, "2.1.0", "x")), std::logic_error);
    d.fsm.feed("EHLO c\r\n");
    CHECK(d.fsm.next().kind == action_kind::check_helo);
    CHECK_THROWS_AS(d.fsm.next(), std::logic_error);
    d.fsm.helo_result(reply(250, "", "ok"));
    CHECK(d.fsm.next().kind == action_kind::send);
}
