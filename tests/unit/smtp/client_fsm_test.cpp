// tests/unit/smtp/client_fsm_test.cpp — client_fsm driven by scripted server bytes: every branch.
#include "client_driver.hpp"

#include "daemon/smtp/dot_stuffer.hpp"
#include "daemon/smtp/sasl.hpp"

#include <catch2/catch.hpp>

using namespace cartero;
using namespace cartero::smtp;
using namespace cartero::smtp::test;
using kind = client_action_kind;

namespace {

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// Greeting + EHLO with `ehlo` answered; returns the driver ready for transactions.
void open_session(client_driver& d, const char* ehlo = ehlo_basic) {
    REQUIRE(d.run() == kind::need_input);
    CHECK(d.fsm.current_timeout() == client_timeout::initial);
    CHECK(d.server("220 mx.example.net ESMTP\r\n") == "EHLO out1.example.org\r\n");
    CHECK(d.fsm.current_timeout() == client_timeout::command);
    d.server(ehlo);
}

} // namespace

TEST_CASE("client: greeting 554 ends the connection with that reply", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(7, {"a@example.net", "b@example.net"}));
    d.run();
    CHECK(d.server("554 mx.example.net No SMTP service here\r\n") == "QUIT\r\n");
    CHECK(d.closed);
    REQUIRE(d.results.size() == 1);
    CHECK(d.results[0].id == 7);
    for (auto& r : d.results[0].recipients) {
        CHECK(r.reply.r.code == 554);
        CHECK(r.reply.verbatim == "554 mx.example.net No SMTP service here");
        CHECK(!r.reply.local);
        CHECK(r.stage == client_stage::greeting);
        CHECK(r.permanent());
    }
    REQUIRE(d.fsm.connection_error());
    CHECK(d.fsm.connection_error()->r.code == 554);
    CHECK(d.fsm.greeting()->r.code == 554);
    CHECK(d.fsm.next().kind == kind::close); // stays closed
}

TEST_CASE("client: greeting 421 defers everything", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    d.run();
    CHECK(d.server("421 4.3.2 Too busy, try later\r\n").empty()); // closing: no QUIT needed
    CHECK(d.closed);
    REQUIRE(d.results.size() == 1);
    CHECK(d.results[0].recipients[0].temporary());
    CHECK(d.results[0].recipients[0].reply.r.enhanced == "4.3.2");
}

TEST_CASE("client: EHLO refused → HELO, lock-step transaction", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net", "b@example.net"}));
    d.run();
    d.server("220 old.example.net\r\n");
    CHECK(d.server("502 Command not implemented\r\n") == "HELO out1.example.org\r\n");
    CHECK(d.server("250 old.example.net\r\n") == "MAIL FROM:<sender@example.org>\r\n");
    CHECK(!d.fsm.extensions().esmtp);
    CHECK(d.fsm.current_timeout() == client_timeout::mail);
    CHECK(d.server("250 ok\r\n") == "RCPT TO:<a@example.net>\r\n");
    CHECK(d.fsm.current_timeout() == client_timeout::rcpt);
    CHECK(d.server("250 ok\r\n") == "RCPT TO:<b@example.net>\r\n");
    CHECK(d.server("550 no such user\r\n") == "DATA\r\n");
    CHECK(d.fsm.current_timeout() == client_timeout::data_init);
    CHECK(d.server("354 go ahead\r\n") == "Subject: t\r\n\r\nhello\r\n.\r\n");
    CHECK(d.fsm.current_timeout() == client_timeout::data_term);
    d.fsm.no_more_transactions();
    CHECK(d.server("250 queued as 123\r\n") == "QUIT\r\n");
    CHECK(d.closed);
    REQUIRE(d.results.size() == 1);
    auto& rs = d.results[0].recipients;
    CHECK(rs[0].delivered());
    CHECK(rs[0].reply.verbatim == "250 queued as 123");
    CHECK(rs[0].stage == client_stage::data_end);
    CHECK(rs[1].permanent());
    CHECK(rs[1].stage == client_stage::rcpt);
    CHECK(rs[1].reply.r.enhanced.empty()); // none given, none made up
    CHECK(!d.fsm.connection_error());
}

TEST_CASE("client: HELO refused too fails the session", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    d.run();
    d.server("220 x\r\n");
    d.server("500 what\r\n");
    CHECK(d.server("550 5.7.1 go away\r\n") == "QUIT\r\n");
    REQUIRE(d.results.size() == 1);
    CHECK(d.results[0].recipients[0].stage == client_stage::helo);
    CHECK(d.results[0].recipients[0].reply.r.code == 550);
}

TEST_CASE("client: STARTTLS offered (opportunistic) and EHLO again", "[smtp][client][tls]") {
    client_driver d(plain_settings(tls_policy::opportunistic));
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    d.run();
    d.server("220 mx\r\n");
    CHECK(d.server("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n") == "STARTTLS\r\n");
    // Bytes after the 220 are plaintext injection (CVE-2011-1431): dropped.
    d.server("220 2.0.0 Ready\r\n250-injected\r\n");
    CHECK(d.stops.back() == kind::start_tls);
    CHECK(d.fsm.current_timeout() == client_timeout::none);
    d.fsm.feed("250 more injected\r\n"); // still before the handshake: dropped
    d.fsm.tls_started("TLSv1.3", "TLS_AES_256_GCM_SHA384");
    CHECK(d.fsm.tls_active());
    CHECK(d.fsm.tls_version() == "TLSv1.3");
    CHECK(d.fsm.tls_cipher() == "TLS_AES_256_GCM_SHA384");
    d.run();
    CHECK(d.writes.back() == "EHLO out1.example.org\r\n");
    CHECK(!d.fsm.extensions().pipelining); // forgotten after STARTTLS (RFC 3207 §4.2)
    CHECK(d.server("250-mx\r\n250 8BITMIME\r\n") == "MAIL FROM:<sender@example.org>\r\n");
}

TEST_CASE("client: STARTTLS not offered", "[smtp][client][tls]") {
    SECTION("opportunistic goes on in plaintext") {
        client_driver d(plain_settings(tls_policy::opportunistic));
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.run();
        d.server("220 mx\r\n");
        CHECK(d.server(ehlo_basic) == "MAIL FROM:<sender@example.org> SIZE=21\r\n");
        CHECK(!d.fsm.tls_active());
    }
    SECTION("required fails the connection with a tls-failure reply") {
        client_driver d(plain_settings(tls_policy::required));
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.fsm.add_transaction(make_tx(2, {"b@example.net"}));
        d.run();
        d.server("220 mx\r\n");
        CHECK(d.server(ehlo_basic) == "QUIT\r\n");
        CHECK(d.closed);
        REQUIRE(d.results.size() == 2);
        for (auto& t : d.results) {
            auto& r = t.recipients[0];
            CHECK(r.reply.local);
            CHECK(r.reply.r.code == 451);
            CHECK(r.reply.r.enhanced == "4.7.4");
            CHECK(r.stage == client_stage::starttls);
        }
    }
    SECTION("policy none never asks") {
        client_driver d(plain_settings(tls_policy::none));
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.run();
        d.server("220 mx\r\n");
        CHECK(d.server("250-mx\r\n250 STARTTLS\r\n") == "MAIL FROM:<sender@example.org>\r\n");
    }
}

TEST_CASE("client: STARTTLS refused or handshake failed", "[smtp][client][tls]") {
    SECTION("454 with opportunistic: plaintext") {
        client_driver d(plain_settings(tls_policy::opportunistic));
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.run();
        d.server("220 mx\r\n");
        d.server("250-mx\r\n250 STARTTLS\r\n");
        CHECK(d.server("454 4.7.0 TLS not available\r\n") == "MAIL FROM:<sender@example.org>\r\n");
    }
    SECTION("454 with required: fail") {
        client_driver d(plain_settings(tls_policy::required));
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.run();
        d.server("220 mx\r\n");
        d.server("250-mx\r\n250 STARTTLS\r\n");
        CHECK(d.server("454 4.7.0 TLS not available\r\n") == "QUIT\r\n");
        auto& r = d.results.at(0).recipients[0];
        CHECK(r.reply.r.enhanced == "4.7.4");
        CHECK(contains(r.reply.verbatim, "454 4.7.0 TLS not available"));
    }
    SECTION("handshake failure closes; nothing attempted") {
        client_driver d(plain_settings(tls_policy::opportunistic));
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.run();
        d.server("220 mx\r\n");
        d.server("250-mx\r\n250 STARTTLS\r\n");
        d.server("220 go\r\n");
        d.fsm.tls_failed("certificate verify failed");
        d.run();
        CHECK(d.closed);
        auto& r = d.results.at(0).recipients[0];
        CHECK(r.reply.r.enhanced == "4.7.5");
        CHECK(r.stage == client_stage::starttls);
        CHECK(contains(r.reply.verbatim, "certificate verify failed"));
    }
}

TEST_CASE("client: AUTH PLAIN over TLS to a smarthost", "[smtp][client][auth]") {
    client_settings s = plain_settings(tls_policy::required);
    s.auth = client_credentials{"app", "s3cret"};
    client_driver d(s);
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    d.run();
    d.server("220 relay\r\n");
    CHECK(d.server("250-relay\r\n250-AUTH LOGIN PLAIN\r\n250 STARTTLS\r\n") == "STARTTLS\r\n");
    d.server("220 go\r\n");
    d.fsm.tls_started("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256");
    d.run();
    std::string expect_auth = "AUTH PLAIN " + base64_encode(std::string("\0app\0s3cret", 11)) + "\r\n";
    CHECK(d.server("250-relay\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE\r\n") == expect_auth);
    CHECK(d.fsm.current_timeout() == client_timeout::command);
    CHECK(d.server("235 2.7.0 Authentication successful\r\n") ==
          "MAIL FROM:<sender@example.org> SIZE=21\r\n");
    CHECK(d.fsm.authenticated());
}

TEST_CASE("client: AUTH LOGIN, and a refused login defers", "[smtp][client][auth]") {
    client_settings s = plain_settings();
    s.tls_active = true; // implicit TLS (port 465)
    s.auth = client_credentials{"app", "pw"};
    client_driver d(s);
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    d.run();
    d.server("220 relay\r\n");
    CHECK(d.server("250-relay\r\n250 AUTH=LOGIN\r\n") == "AUTH LOGIN\r\n");
    CHECK(d.server("334 VXNlcm5hbWU6\r\n") == base64_encode("app") + "\r\n");
    CHECK(d.server("334 UGFzc3dvcmQ6\r\n") == base64_encode("pw") + "\r\n");
    SECTION("accepted") {
        CHECK(d.server("235 2.7.0 ok\r\n") == "MAIL FROM:<sender@example.org>\r\n");
    }
    SECTION("refused") {
        CHECK(d.server("535 5.7.8 Authentication credentials invalid\r\n") == "QUIT\r\n");
        auto& r = d.results.at(0).recipients[0];
        CHECK(r.temporary()); // our configuration, not the recipient: retry, do not bounce
        CHECK(r.stage == client_stage::auth);
        CHECK(contains(r.reply.verbatim, "535 5.7.8 Authentication credentials invalid"));
    }
}

TEST_CASE("client: credentials are never sent without TLS", "[smtp][client][auth]") {
    client_settings s = plain_settings(tls_policy::none);
    s.auth = client_credentials{"app", "pw"};
    client_driver d(s);
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    d.run();
    d.server("220 relay\r\n");
    CHECK(d.server("250-relay\r\n250 AUTH PLAIN\r\n") == "QUIT\r\n");
    CHECK(!contains(d.wire, "AUTH"));
    CHECK(d.results.at(0).recipients[0].stage == client_stage::auth);
}

TEST_CASE("client: pipelined batch with mixed RCPT results", "[smtp][client][pipelining]") {
    client_driver d(plain_settings());
    transaction t = make_tx(9, {"ok1@example.net", "gone@example.net", "full@example.net",
                                "ok2@example.net"});
    t.rcpts[0].notify = "FAILURE,DELAY";
    t.rcpts[0].orcpt = "Ok1+x=y@example.net";
    t.dsn_ret = "HDRS";
    t.dsn_envid = "Q123 4";
    t.eight_bit = true;
    d.fsm.add_transaction(t);
    open_session(d, ehlo_pipelining);
    // One write: MAIL, every RCPT, DATA (RFC 2920 §3.1).
    REQUIRE(d.writes.size() == 2);
    CHECK(d.writes[1] ==
          "MAIL FROM:<sender@example.org> SIZE=21 BODY=8BITMIME RET=HDRS ENVID=Q123+204\r\n"
          "RCPT TO:<ok1@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;Ok1+2Bx+3Dy@example.net\r\n"
          "RCPT TO:<gone@example.net>\r\nRCPT TO:<full@example.net>\r\n"
          "RCPT TO:<ok2@example.net>\r\nDATA\r\n");
    // Replies may arrive in pieces.
    CHECK(d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550-5.1.1 <gone@example.net>: no\r\n").empty());
    CHECK(d.server("550 5.1.1 such user\r\n452 4.2.2 Mailbox full\r\n250 2.1.5 Ok\r\n").empty());
    CHECK(d.server("354 End data with <CR><LF>.<CR><LF>\r\n") == "Subject: t\r\n\r\nhello\r\n.\r\n");
    d.server("250 2.0.0 Ok: queued as 4XyZ\r\n");
    REQUIRE(d.results.size() == 1);
    auto& r = d.results[0];
    CHECK(r.mail_reply->r.code == 250);
    CHECK(r.final_reply->verbatim == "250 2.0.0 Ok: queued as 4XyZ");
    CHECK(r.recipients[0].delivered());
    CHECK(r.recipients[1].permanent());
    CHECK(r.recipients[1].reply.r.lines.size() == 2);
    CHECK(r.recipients[1].reply.verbatim ==
          "550-5.1.1 <gone@example.net>: no\r\n550 5.1.1 such user");
    CHECK(r.recipients[2].temporary());
    CHECK(r.recipients[2].reply.r.enhanced == "4.2.2");
    CHECK(r.recipients[3].delivered());
    CHECK(d.stops.back() == kind::idle); // more may come on this connection
}

TEST_CASE("client: all RCPTs refused → no DATA, RSET before the next MAIL", "[smtp][client]") {
    SECTION("pipelined: DATA refused by the server") {
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"x@example.net", "y@example.net"}));
        d.fsm.add_transaction(make_tx(2, {"z@example.net"}));
        open_session(d, ehlo_pipelining);
        std::string w = d.server("250 2.1.0 Ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n"
                                 "554 5.5.1 Error: no valid recipients\r\n");
        CHECK(w == "RSET\r\nMAIL FROM:<sender@example.org> SIZE=21\r\n"
                   "RCPT TO:<z@example.net>\r\nDATA\r\n");
        REQUIRE(d.results.size() == 1);
        CHECK(d.results[0].recipients[0].stage == client_stage::rcpt);
        CHECK(d.results[0].recipients[1].reply.r.enhanced == "5.1.1");
        CHECK(!d.results[0].final_reply);
    }
    SECTION("pipelined: a server that 354s anyway gets an empty message") {
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"x@example.net"}));
        open_session(d, ehlo_pipelining);
        CHECK(d.server("250 2.1.0 Ok\r\n550 5.1.1 no\r\n354 go\r\n") == ".\r\n");
        d.server("250 2.0.0 nothing\r\n");
        REQUIRE(d.results.size() == 1);
        CHECK(d.results[0].recipients[0].reply.r.code == 550);
        CHECK(!contains(d.wire, "hello"));
    }
    SECTION("lock-step: no DATA; QUIT without RSET when nothing follows") {
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"x@example.net"}));
        d.fsm.no_more_transactions();
        open_session(d);
        CHECK(d.server("250 2.1.0 Ok\r\n") == "RCPT TO:<x@example.net>\r\n");
        CHECK(d.server("550 5.1.1 no\r\n") == "QUIT\r\n");
        CHECK(!contains(d.wire, "DATA"));
        CHECK(d.results.size() == 1);
    }
}

TEST_CASE("client: MAIL refused", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"x@example.net", "y@example.net"}));
    d.fsm.add_transaction(make_tx(2, {"z@example.net"}));
    open_session(d);
    CHECK(d.server("553 5.1.8 Sender domain does not exist\r\n") == "RSET\r\n");
    REQUIRE(d.results.size() == 1);
    for (auto& r : d.results[0].recipients) {
        CHECK(r.stage == client_stage::mail);
        CHECK(r.reply.r.enhanced == "5.1.8");
    }
    CHECK(d.server("250 2.0.0 Ok\r\n") == "MAIL FROM:<sender@example.org> SIZE=21\r\n");
}

TEST_CASE("client: DATA 354 then the final reply", "[smtp][client]") {
    struct cse {
        const char* reply;
        bool delivered, permanent;
    } cases[] = {{"552 5.2.2 Mailbox full\r\n", false, true},
                 {"451 4.3.0 Try again later\r\n", false, false},
                 {"250 2.0.0 Ok\r\n", true, false}};
    for (auto& c : cases) {
        INFO(c.reply);
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"a@example.net", "b@example.net"}));
        d.fsm.add_transaction(make_tx(2, {"c@example.net"}));
        open_session(d, ehlo_pipelining);
        d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
        std::string w = d.server(c.reply);
        REQUIRE(d.results.size() == 1);
        for (auto& r : d.results[0].recipients) {
            CHECK(r.delivered() == c.delivered);
            CHECK(r.permanent() == c.permanent);
            CHECK(r.stage == client_stage::data_end);
            CHECK(r.reply.verbatim + "\r\n" == c.reply);
        }
        // The final reply ends the transaction either way: no RSET (RFC 5321 §4.1.1.4).
        CHECK(w == "MAIL FROM:<sender@example.org> SIZE=21\r\nRCPT TO:<c@example.net>\r\nDATA\r\n");
    }
}

TEST_CASE("client: DATA refused for accepted recipients", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net", "b@example.net"}));
    open_session(d, ehlo_pipelining);
    d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n451 4.3.0 not now\r\n");
    auto& rs = d.results.at(0).recipients;
    CHECK(rs[0].stage == client_stage::data);
    CHECK(rs[0].temporary());
    CHECK(rs[1].stage == client_stage::rcpt);
}

TEST_CASE("client: server closes mid-DATA", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net", "b@example.net", "c@example.net"}));
    d.fsm.add_transaction(make_tx(2, {"d@example.net"}));
    open_session(d, ehlo_pipelining);
    d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n250 2.1.5 Ok\r\n354 go\r\n");
    CHECK(d.fsm.current_timeout() == client_timeout::data_term);
    d.eof();
    CHECK(d.closed);
    REQUIRE(d.results.size() == 2);
    auto& rs = d.results[0].recipients;
    CHECK(rs[0].temporary());
    CHECK(rs[0].reply.local);
    CHECK(rs[0].reply.r.enhanced == "4.4.2");
    CHECK(rs[0].stage == client_stage::data_end);
    CHECK(rs[1].permanent()); // decided before the loss: kept
    CHECK(rs[1].reply.r.enhanced == "5.1.1");
    CHECK(rs[2].temporary());
    CHECK(d.results[1].recipients[0].stage == client_stage::not_attempted);
    CHECK(d.results[1].recipients[0].temporary());
    CHECK(d.fsm.connection_error()->r.enhanced == "4.4.2");
}

TEST_CASE("client: body sent in chunks with the data-block timeout", "[smtp][client]") {
    client_settings s = plain_settings();
    s.body_chunk = 10;
    client_driver d(s);
    std::string body;
    for (int i = 0; i < 10; ++i) body += ".line " + std::to_string(i) + "\r\n";
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}, body));
    open_session(d, ehlo_pipelining);
    d.fsm.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    // Step by hand: each send is one chunk.
    int chunks = 0;
    std::string data;
    while (true) {
        client_action a = d.fsm.next();
        if (a.kind != kind::send) {
            CHECK(a.kind == kind::need_input);
            break;
        }
        if (chunks == 0) CHECK(d.fsm.current_timeout() == client_timeout::data_block);
        ++chunks;
        data += a.out;
    }
    CHECK(chunks == static_cast<int>((body.size() + 9) / 10));
    CHECK(data == dot_stuff(body));
    CHECK(d.fsm.current_timeout() == client_timeout::data_term);
}

TEST_CASE("client: eof while sending the body", "[smtp][client]") {
    client_settings s = plain_settings();
    s.body_chunk = 4;
    client_driver d(s);
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    open_session(d, ehlo_pipelining);
    d.fsm.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    CHECK(d.fsm.next().kind == kind::send);
    d.fsm.eof();
    d.run();
    CHECK(d.results.at(0).recipients[0].stage == client_stage::data_end);
    CHECK(d.results.at(0).recipients[0].temporary());
}

TEST_CASE("client: malformed replies are protocol errors", "[smtp][client]") {
    const char* bad[] = {"250-ok\r\n251 mixed\r\n", "hello there\r\n", "354 go\r\n"};
    for (const char* b : bad) {
        INFO(b);
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.fsm.add_transaction(make_tx(2, {"b@example.net"}));
        open_session(d);
        d.server(b); // the reply to MAIL
        CHECK(d.closed);
        REQUIRE(d.results.size() == 2);
        auto& r = d.results[0].recipients[0];
        CHECK(r.reply.r.code == 451);
        CHECK(r.reply.r.enhanced == "4.4.0");
        CHECK(r.reply.local);
        CHECK(contains(r.reply.verbatim, "Protocol error from remote server"));
        CHECK(r.stage == client_stage::mail);
        CHECK(d.results[1].recipients[0].stage == client_stage::not_attempted);
    }
    SECTION("over-long line") {
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
        d.run();
        d.server("220 " + std::string(600, 'x'));
        CHECK(d.closed);
        CHECK(contains(d.results.at(0).recipients[0].reply.verbatim, "longer than 512"));
    }
}

TEST_CASE("client: 421 in the middle of a transaction", "[smtp][client]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net", "b@example.net"}));
    d.fsm.add_transaction(make_tx(2, {"c@example.net"}));
    open_session(d, ehlo_pipelining);
    d.server("250 2.1.0 Ok\r\n550 5.1.1 no\r\n421 4.7.0 Too many messages, slow down\r\n");
    CHECK(d.closed);
    auto& rs = d.results.at(0).recipients;
    CHECK(rs[0].permanent());
    CHECK(rs[1].reply.r.code == 421);
    CHECK(rs[1].stage == client_stage::rcpt);
    CHECK(d.results.at(1).recipients[0].reply.r.code == 421);
    CHECK(d.results.at(1).recipients[0].stage == client_stage::not_attempted);
}

TEST_CASE("client: SMTPUTF8 rule (RFC 6531)", "[smtp][client][utf8]") {
    SECTION("server lacks SMTPUTF8: permanent failure, nothing sent") {
        client_driver d(plain_settings());
        transaction t = make_tx(1, {"josé@example.net"});
        t.needs_smtputf8 = true;
        d.fsm.add_transaction(t);
        d.fsm.add_transaction(make_tx(2, {"b@example.net"}));
        open_session(d); // ehlo_basic: no SMTPUTF8
        REQUIRE(d.results.size() == 1);
        auto& r = d.results[0].recipients[0];
        CHECK(r.reply.verbatim.rfind("550 5.6.7 ", 0) == 0);
        CHECK(contains(r.reply.verbatim, "remote server does not support SMTPUTF8"));
        CHECK(r.stage == client_stage::precheck);
        CHECK(r.permanent());
        // The next transaction goes on, with no RSET (nothing was sent).
        CHECK(d.writes.back() == "MAIL FROM:<sender@example.org> SIZE=21\r\n");
    }
    SECTION("server has it: SMTPUTF8 parameter") {
        client_driver d(plain_settings());
        transaction t = make_tx(1, {"josé@example.net"});
        t.needs_smtputf8 = true;
        d.fsm.add_transaction(t);
        open_session(d, ehlo_pipelining);
        CHECK(contains(d.writes.back(), "MAIL FROM:<sender@example.org> SIZE=21 SMTPUTF8\r\n"
                                        "RCPT TO:<josé@example.net>\r\n"));
    }
}

TEST_CASE("client: 8-bit, SIZE and DSN parameters follow the EHLO", "[smtp][client]") {
    SECTION("8-bit to a server without 8BITMIME: sent as is by default") {
        client_driver d(plain_settings());
        transaction t = make_tx(1, {"a@example.net"});
        t.eight_bit = true;
        t.dsn_ret = "FULL";
        t.rcpts[0].notify = "NEVER";
        d.fsm.add_transaction(t);
        open_session(d, "250-mx\r\n250 SIZE\r\n");
        CHECK(d.writes.back() == "MAIL FROM:<sender@example.org> SIZE=21\r\n"); // no DSN, no BODY
        CHECK(d.server("250 ok\r\n") == "RCPT TO:<a@example.net>\r\n");
    }
    SECTION("…or refused with 554 5.6.3 when configured") {
        client_settings s = plain_settings();
        s.refuse_8bit_without_8bitmime = true;
        client_driver d(s);
        transaction t = make_tx(1, {"a@example.net"});
        t.eight_bit = true;
        d.fsm.add_transaction(t);
        open_session(d, "250-mx\r\n250 SIZE\r\n");
        CHECK(d.results.at(0).recipients[0].reply.r.enhanced == "5.6.3");
    }
    SECTION("larger than the advertised SIZE") {
        client_driver d(plain_settings());
        d.fsm.add_transaction(make_tx(1, {"a@example.net"}, std::string(20000, 'x')));
        open_session(d); // SIZE 10000
        auto& r = d.results.at(0).recipients[0];
        CHECK(r.reply.r.code == 552);
        CHECK(r.reply.r.enhanced == "5.3.4");
        CHECK(r.stage == client_stage::precheck);
    }
}

TEST_CASE("client: one connection, three transactions", "[smtp][client][reuse]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}, "one\r\n"));
    open_session(d, ehlo_pipelining);
    d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    d.server("250 2.0.0 first\r\n");
    CHECK(d.stops.back() == kind::idle);
    CHECK(d.fsm.current_timeout() == client_timeout::none);
    d.fsm.add_transaction(make_tx(2, {"b@example.net"}, "two\r\n"));
    d.run();
    CHECK(d.writes.back() == "MAIL FROM:<sender@example.org> SIZE=5\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    d.server("554 5.7.1 rejected as spam\r\n");
    d.fsm.add_transaction(make_tx(3, {"c@example.net"}, ".three"));
    d.fsm.no_more_transactions();
    d.run();
    // Final reply ended the transaction: still no RSET.
    CHECK(d.writes.back() == "MAIL FROM:<sender@example.org> SIZE=6\r\nRCPT TO:<c@example.net>\r\nDATA\r\n");
    CHECK(d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n") == "..three\r\n.\r\n");
    CHECK(d.server("250 2.0.0 third\r\n") == "QUIT\r\n");
    CHECK(d.closed);
    REQUIRE(d.results.size() == 3);
    CHECK(d.results[0].recipients[0].delivered());
    CHECK(d.results[1].recipients[0].permanent());
    CHECK(d.results[2].recipients[0].reply.verbatim == "250 2.0.0 third");
    CHECK(!contains(d.wire, "RSET"));
    // After close, a late transaction comes straight back.
    d.fsm.add_transaction(make_tx(4, {"d@example.net"}));
    d.run();
    REQUIRE(d.results.size() == 4);
    CHECK(d.results[3].recipients[0].stage == client_stage::not_attempted);
}

TEST_CASE("client: dot-stuffing on the wire", "[smtp][client][dot]") {
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}, ".\r\n..\r\nend without crlf"));
    open_session(d, ehlo_pipelining);
    CHECK(d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n") ==
          "..\r\n...\r\nend without crlf\r\n.\r\n");
}

TEST_CASE("client: a dot-free body is lent, not copied, and the wire is the same", "[smtp][client][dot]") {
    client_settings s = plain_settings();
    s.body_chunk = 10; // ignored for a lent body: one write
    client_driver d(s);
    auto tx = make_tx(1, {"a@example.net"}, "Subject: x\r\n\r\nline one\r\n  .not at the start\r\n");
    tx.body_dot_free = true;
    const auto body = tx.body;
    d.fsm.add_transaction(tx);
    open_session(d, ehlo_pipelining);
    d.fsm.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n");
    client_action a = d.fsm.next();
    REQUIRE(a.kind == kind::send);
    CHECK(a.out.empty());
    CHECK(a.borrowed.data() == body->data()); // the message's own memory
    CHECK(a.borrowed.size() == body->size());
    CHECK(a.after == ".\r\n");
    CHECK(d.fsm.next().kind == kind::need_input);
    CHECK(d.fsm.current_timeout() == client_timeout::data_term);
    CHECK(std::string(a.borrowed) + a.after == dot_stuff(*body)); // what stuffing would send
    d.server("250 2.0.0 queued\r\n");
    REQUIRE(d.results.size() == 1);
    CHECK(d.results[0].recipients[0].delivered());
}

TEST_CASE("client: a dot-free body, then the next transaction after it, in order", "[smtp][client][dot]") {
    client_driver d(plain_settings());
    auto one = make_tx(1, {"a@example.net"}, "one\r\n");
    one.body_dot_free = true;
    d.fsm.add_transaction(one);
    open_session(d, ehlo_pipelining);
    CHECK(d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n") == "one\r\n.\r\n");
    auto two = make_tx(2, {"b@example.net"}, "");
    two.body_dot_free = true; // empty: only the end marker
    d.fsm.add_transaction(two);
    d.fsm.no_more_transactions();
    CHECK(d.server("250 2.0.0 first\r\n") ==
          "MAIL FROM:<sender@example.org> SIZE=0\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
    CHECK(d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n") == ".\r\n");
    CHECK(d.server("250 2.0.0 second\r\n") == "QUIT\r\n");
    REQUIRE(d.results.size() == 2);
    CHECK(d.results[1].recipients[0].delivered());
}

TEST_CASE("client: a dot-free body without its last CRLF still gets one (stuffer path)",
          "[smtp][client][dot]") {
    client_driver d(plain_settings());
    auto tx = make_tx(1, {"a@example.net"}, "no crlf at the end");
    tx.body_dot_free = true;
    d.fsm.add_transaction(tx);
    open_session(d, ehlo_pipelining);
    CHECK(d.server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n") == "no crlf at the end\r\n.\r\n");
}

TEST_CASE("client: timeouts per RFC 5321 §4.5.3.2", "[smtp][client]") {
    CHECK(timeout_duration(client_timeout::initial) == std::chrono::minutes(5));
    CHECK(timeout_duration(client_timeout::mail) == std::chrono::minutes(5));
    CHECK(timeout_duration(client_timeout::rcpt) == std::chrono::minutes(5));
    CHECK(timeout_duration(client_timeout::data_init) == std::chrono::minutes(2));
    CHECK(timeout_duration(client_timeout::data_block) == std::chrono::minutes(3));
    CHECK(timeout_duration(client_timeout::data_term) == std::chrono::minutes(10));
    client_driver d(plain_settings());
    d.fsm.add_transaction(make_tx(1, {"a@example.net"}));
    open_session(d);
    d.fsm.timed_out();
    d.run();
    CHECK(d.closed);
    CHECK(d.results.at(0).recipients[0].reply.r.enhanced == "4.4.1");
    CHECK(d.results.at(0).recipients[0].stage == client_stage::mail);
}

TEST_CASE("client: EHLO keywords", "[smtp][client]") {
    client_driver d(plain_settings(tls_policy::none));
    d.run();
    d.server("220 mx\r\n");
    d.server("250-mx.example.net greets you\r\n250-pipelining\r\n250-SIZE 35882577\r\n"
             "250-8BITMIME\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN XOAUTH2\r\n"
             "250-DSN\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n");
    auto& e = d.fsm.extensions();
    CHECK(e.esmtp);
    CHECK(e.pipelining);
    CHECK(e.size);
    CHECK(e.size_limit == 35882577);
    CHECK(e.eight_bit_mime);
    CHECK(e.smtputf8);
    CHECK(e.starttls);
    CHECK(e.dsn);
    CHECK(e.chunking);
    CHECK(e.enhanced_status_codes);
    CHECK(e.auth_mechanisms == std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2"});
    CHECK(d.stops.back() == kind::idle);
    d.fsm.no_more_transactions();
    d.run();
    CHECK(d.writes.back() == "QUIT\r\n");
}

TEST_CASE("client: idle connection dropped fails nobody", "[smtp][client]") {
    client_driver d(plain_settings());
    open_session(d);
    CHECK(d.stops.back() == kind::idle);
    d.eof();
    CHECK(d.closed);
    CHECK(d.results.empty());
}
