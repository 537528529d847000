// tests/unit/smtp/server_fsm_data_test.cpp — server_fsm: DATA, BDAT, smuggling, size and line limits.
#include "session_driver.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::smtp;
using namespace cartero::smtp::test;

namespace {

const char* const start = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\n";
const char* const bare_refusal =
    "550 5.6.0 Message refused: bare CR or LF in message data (RFC 5321 §2.3.8)";

} // namespace

TEST_CASE("DATA: dot-unstuffing and CRLF lines", "[smtp][data]") {
    session_driver d;
    d.send(start);
    d.send("DATA\r\n");
    CHECK(d.last() == "354 End data with <CR><LF>.<CR><LF>");
    d.send("..leading dot\r\n.\r\n"); // ".\r\n" right after: only the stuffed line
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == ".leading dot\r\n");
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n"
           "A\r\n...\r\n.x\r\n\r\n. \r\nend\r\n.\r\n");
    REQUIRE(d.messages.size() == 2);
    CHECK(d.messages[1] == "A\r\n..\r\nx\r\n\r\n \r\nend\r\n");
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n.\r\n");
    REQUIRE(d.messages.size() == 3);
    CHECK(d.messages[2].empty());
    CHECK(d.last() == "250 2.0.0 Queued");
}

TEST_CASE("DATA: SMTP smuggling sequences never end the message", "[smtp][data][smuggling]") {
    // Each sequence tries to end DATA early and smuggle a second transaction behind it.
    const char* seqs[] = {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\r\n", "\n.\r"};
    for (const char* seq : seqs) {
        INFO("sequence " << Catch::Detail::stringify(std::string(seq)));
        session_driver d;
        d.send(start);
        d.send("DATA\r\n");
        auto r = d.send(std::string("Subject: one\r\n\r\nhello") + seq +
                        "MAIL FROM:<evil@smuggled.example>\r\nRCPT TO:<victim@c.example>\r\n"
                        "DATA\r\nsmuggled\r\n");
        CHECK(r.empty());                  // still inside the first message
        CHECK(d.senders.size() == 1);      // the smuggled MAIL was never a command
        CHECK(d.count(action_kind::deliver) == 0);
        r = d.send(".\r\n");
        CHECK(r == std::vector<std::string>{bare_refusal});
        CHECK(d.count(action_kind::deliver) == 0);
        CHECK(d.senders.size() == 1);
        // Back in command state, transaction reset.
        CHECK(d.send("DATA\r\n") == std::vector<std::string>{"503 5.5.1 Need MAIL command"});
    }
}

TEST_CASE("DATA: bare LF refused even when split across reads", "[smtp][data][smuggling]") {
    session_driver d;
    d.send(start);
    d.send("DATA\r\nline one\r");
    d.send("x\r\n");   // CR followed by x: bare CR
    d.send("ok line\r");
    d.send("\n.\r");
    d.send("\n");
    CHECK(d.last() == bare_refusal);
    CHECK(d.count(action_kind::deliver) == 0);

    session_driver e;
    e.send(start);
    e.send("DATA\r\nfine\r");
    e.send("\n.");
    e.send("\r");
    e.send("\n");
    REQUIRE(e.messages.size() == 1);
    CHECK(e.messages[0] == "fine\r\n");
}

TEST_CASE("DATA: size enforced while streaming", "[smtp][data][limits]") {
    server_settings s;
    s.max_message_size = 100;
    session_driver d(s);
    d.send(start);
    d.send("DATA\r\n");
    std::string line(48, 'a'); // 48 + CRLF = 50
    d.send(line + "\r\n" + line + "\r\n"); // exactly 100: fine so far
    CHECK(d.send(".\r\n") == std::vector<std::string>{"250 2.0.0 Queued"});
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0].size() == 100);

    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n");
    d.send(line + "\r\n" + line + "\r\nx\r\n");
    for (int i = 0; i < 100; ++i) d.send(line + "\r\n"); // keeps reading
    CHECK(d.send(".\r\n") == std::vector<std::string>{"552 5.3.4 Message too big"});
    CHECK(d.count(action_kind::deliver) == 1);
    CHECK(d.send("NOOP\r\n") == std::vector<std::string>{"250 2.0.0 Ok"});
}

TEST_CASE("DATA: text line limit", "[smtp][data][limits]") {
    session_driver d;
    d.send(start);
    d.send("DATA\r\n");
    d.send(std::string(998, 'x') + "\r\n.\r\n");
    REQUIRE(d.messages.size() == 1);
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n");
    CHECK(d.send(std::string(999, 'x') + "\r\n.\r\n") ==
          std::vector<std::string>{
              "550 5.6.0 Message refused: line longer than 998 characters (RFC 5322 §2.1.1)"});
    CHECK(d.messages.size() == 1);
    // A stuffed dot does not count toward the line length.
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n");
    d.send("." + std::string(998, '.') + "\r\n.\r\n");
    CHECK(d.messages.size() == 2);
}

TEST_CASE("DATA: NUL and 8-bit octets pass through", "[smtp][data]") {
    session_driver d;
    d.send(start);
    d.send("DATA\r\n");
    d.send(std::string("a\0b\xff\r\n.\r\n", 9));
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == std::string("a\0b\xff\r\n", 6));
}

TEST_CASE("BDAT chunks, in pieces", "[smtp][bdat]") {
    session_driver d;
    d.send(start);
    CHECK(d.send("BDAT 10\r\nhello") .empty());
    CHECK(d.send("\r\n.\r\n") == std::vector<std::string>{"250 2.0.0 10 octets received"});
    CHECK(d.count(action_kind::deliver) == 0);
    d.send("BDAT 7 LAST\r\nMAIL\r\n");
    CHECK(d.send("X") == std::vector<std::string>{"250 2.0.0 Queued"});
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == "hello\r\n.\r\nMAIL\r\nX\r\n"); // no unstuffing; CRLF added at the end
    CHECK(d.send("NOOP\r\n") == std::vector<std::string>{"250 2.0.0 Ok"});
}

TEST_CASE("BDAT pipelined, CRLF split across chunks, BDAT 0 LAST", "[smtp][bdat]") {
    session_driver d;
    auto r = d.send(std::string(start) + "BDAT 3\r\nab\rBDAT 3\r\n\ncdBDAT 0 LAST\r\nQUIT\r\n");
    CHECK(r == std::vector<std::string>{"250 CHUNKING", "250 2.1.0 Sender ok", "250 2.1.5 Recipient ok",
                                        "250 2.0.0 3 octets received",
                                        "250 2.0.0 3 octets received", "250 2.0.0 Queued",
                                        "221 2.0.0 Bye"});
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == "ab\r\ncd\r\n");

    session_driver e;
    e.send(start);
    CHECK(e.send("BDAT 0 last\r\n") == std::vector<std::string>{"250 2.0.0 Queued"});
    REQUIRE(e.messages.size() == 1);
    CHECK(e.messages[0].empty());
}

TEST_CASE("BDAT refusals", "[smtp][bdat]") {
    session_driver d;
    d.send("EHLO c\r\n");
    // No transaction: the chunk is swallowed, then 503; "MAIL" inside it is not a command.
    CHECK(d.send("BDAT 25 LAST\r\nMAIL FROM:<x@y.example>") .empty());
    CHECK(d.send("\r\n") == std::vector<std::string>{"503 5.5.1 Need MAIL command"});
    CHECK(d.senders.empty());
    d.send("MAIL FROM:<a@b.example>\r\n");
    CHECK(d.send("BDAT 1\r\nx") == std::vector<std::string>{"503 5.5.1 Need RCPT command"});
    d.send("RCPT TO:<r@c.example>\r\nBDAT 2\r\nxy");
    CHECK(d.send("DATA\r\n") == std::vector<std::string>{"503 5.5.1 DATA not allowed after BDAT (RFC 3030 §3)"});
    CHECK(d.send("RCPT TO:<r2@c.example>\r\n") == std::vector<std::string>{"503 5.5.1 RCPT not allowed after BDAT"});
    // Bare LF inside chunks: refused at LAST, nothing delivered.
    CHECK(d.send("BDAT 3 LAST\r\na\nb") == std::vector<std::string>{bare_refusal});
    CHECK(d.count(action_kind::deliver) == 0);
    // CR at the very end of the last chunk is a bare CR.
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\n");
    CHECK(d.send("BDAT 2 LAST\r\na\r") == std::vector<std::string>{bare_refusal});
    CHECK(d.count(action_kind::deliver) == 0);
    // Bad syntax: the length is unknown, the connection cannot resynchronise.
    CHECK(d.send("BDAT ten\r\n") == std::vector<std::string>{"501 5.5.4 Syntax: BDAT <size> [LAST]; closing connection"});
    CHECK(d.closed);
}

TEST_CASE("BDAT: size limit across chunks", "[smtp][bdat][limits]") {
    server_settings s;
    s.max_message_size = 10;
    session_driver d(s);
    d.send(start);
    CHECK(d.send("BDAT 8\r\n12345678") == std::vector<std::string>{"250 2.0.0 8 octets received"});
    CHECK(d.send("BDAT 8 LAST\r\n12345678") == std::vector<std::string>{"552 5.3.4 Message too big"});
    // Over the limit in a non-LAST chunk: refused at that chunk, the transaction is over.
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\n");
    CHECK(d.send("BDAT 11\r\n12345678901") == std::vector<std::string>{"552 5.3.4 Message too big"});
    CHECK(d.send("BDAT 1 LAST\r\nx") == std::vector<std::string>{"503 5.5.1 Need MAIL command"});
    CHECK(d.count(action_kind::deliver) == 0);
}

TEST_CASE("STARTTLS discards pipelined plaintext (CVE-2011-0411)", "[smtp][tls]") {
    server_settings s;
    s.tls_available = true;
    session_driver d(s);
    d.auto_tls = false;
    d.send("EHLO c\r\n");
    auto r = d.send("STARTTLS\r\nRSET\r\nMAIL FROM:<inject@x.example>\r\n");
    CHECK(r == std::vector<std::string>{"220 2.0.0 Ready to start TLS"});
    CHECK(d.kinds.back() == action_kind::start_tls);
    d.fsm.feed("NOOP\r\n"); // still plaintext: dropped too
    d.fsm.tls_started();
    CHECK(d.run().empty()); // nothing left: RSET, MAIL and NOOP are gone
    CHECK(d.senders.empty());
    CHECK(d.fsm.tls_active());
    // HELO forgotten: EHLO again.
    CHECK(d.send("MAIL FROM:<a@b.example>\r\n") == std::vector<std::string>{"503 5.5.1 Send EHLO/HELO first"});
    CHECK(d.send("STARTTLS\r\n") == std::vector<std::string>{"503 5.5.1 TLS already active (RFC 3207 §4.2)"});
}

TEST_CASE("STARTTLS refusals", "[smtp][tls]") {
    session_driver d; // tls not available
    d.send("EHLO c\r\n");
    CHECK(d.send("STARTTLS\r\n") == std::vector<std::string>{"502 5.5.1 STARTTLS not available"});
    server_settings s;
    s.tls_available = true;
    session_driver e(s);
    CHECK(e.send("STARTTLS\r\n") == std::vector<std::string>{"503 5.5.1 Send EHLO first"});
    e.send("EHLO c\r\n");
    CHECK(e.send("STARTTLS now\r\n") == std::vector<std::string>{"501 5.5.4 Syntax: STARTTLS takes no argument"});
    e.send("MAIL FROM:<a@b.example>\r\n");
    CHECK(e.send("STARTTLS\r\n") == std::vector<std::string>{"503 5.5.1 Not allowed during a mail transaction"});
    CHECK_FALSE(e.fsm.tls_active());
}

TEST_CASE("after STARTTLS and a new EHLO, AUTH is accepted", "[smtp][tls]") {
    server_settings s;
    s.tls_available = true;
    session_driver d(s);
    d.send("EHLO c\r\nSTARTTLS\r\n");
    REQUIRE(d.fsm.tls_active());
    d.send("EHLO c\r\nAUTH PLAIN AHUAcA==\r\n");
    CHECK(d.last() == "235 2.7.0 Authentication successful");
    REQUIRE(d.fsm.authenticated_user());
    CHECK(*d.fsm.authenticated_user() == "u");
}

TEST_CASE("message prefix: stored in front, outside the size limit, per transaction", "[smtp][data][limits]") {
    server_settings s;
    s.max_message_size = 100;
    int calls = 0;
    s.message_prefix = [&calls](const envelope& env) {
        ++calls;
        return "Received: for " + env.recipients.at(0).address() + " #" + std::to_string(calls) + "\r\n";
    };
    session_driver d(s);
    d.send(start);
    d.send("DATA\r\n");
    CHECK(calls == 1);
    std::string line(48, 'a');
    d.send(line + "\r\n" + line + "\r\n"); // exactly the limit after the prefix: fine
    CHECK(d.send(".\r\n") == std::vector<std::string>{"250 2.0.0 Queued"});
    REQUIRE(d.messages.size() == 1);
    const std::string first = "Received: for r@c.example #1\r\n";
    CHECK(d.prefixes[0] == first.size());
    CHECK(d.messages[0] == first + line + "\r\n" + line + "\r\n");
    // One octet more than the limit is still too big: the prefix does not count, nor help.
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\nDATA\r\n");
    d.send(line + "\r\n" + line + "\r\nx\r\n");
    CHECK(d.send(".\r\n") == std::vector<std::string>{"552 5.3.4 Message too big"});
    // BDAT: asked once per message, at its first chunk.
    d.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@c.example>\r\n");
    d.send("BDAT 3\r\nab\r");
    CHECK(d.send("BDAT 1 LAST\r\n\n") == std::vector<std::string>{"250 2.0.0 Queued"});
    CHECK(calls == 3);
    REQUIRE(d.messages.size() == 2);
    CHECK(d.messages[1] == "Received: for r@c.example #3\r\nab\r\n");
    CHECK(d.prefixes[1] == d.messages[1].size() - 4);
}

TEST_CASE("message prefix: none when the callback gives nothing", "[smtp][data]") {
    server_settings s;
    s.message_prefix = [](const envelope&) { return std::string(); };
    session_driver d(s);
    d.send(start);
    d.send("DATA\r\nbody\r\n.\r\n");
    REQUIRE(d.messages.size() == 1);
    CHECK(d.messages[0] == "body\r\n");
    CHECK(d.prefixes[0] == 0);
}
