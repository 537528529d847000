// tests/unit/local/autoresponder_test.cpp — RFC 3834 rules (every skip rule, and the happy path),
// the reply's headers and body, the once-per-interval memory in queue.db, and the worker.
#include "daemon/local/autoresponder.hpp"
#include "daemon/bounce/message_parts.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <future>

using namespace cartero;
using namespace cartero::local;
namespace mime = cartero::bounce::mime;

namespace {

constexpr std::int64_t now = 1'800'000'000;

config::autoreply_row cfg() {
    config::autoreply_row r;
    r.mailbox = "bob@example.com";
    r.body_text = "I am away until Monday.\nBack soon = really.\n";
    r.interval_days = 7;
    return r;
}

const std::string plain =
    "From: Alice <alice@remote.example>\r\n"
    "To: Bob <bob@example.com>\r\n"
    "Subject: Lunch?\r\n"
    "Message-ID: <m1@remote.example>\r\n"
    "\r\n"
    "Shall we?\r\n";

autoreply_incoming incoming(const std::string& msg, std::string sender = "alice@remote.example") {
    return {std::move(sender), "bob@example.com", "bob@example.com", msg};
}

autoreply_skip screen_with(const std::string& extra_header) {
    static std::string msg;
    msg = extra_header + plain;
    return screen(incoming(msg), cfg(), now);
}

} // namespace

TEST_CASE("a personal message from a person gets a reply") {
    CHECK(screen(incoming(plain), cfg(), now) == autoreply_skip::none);
    CHECK(screen_with("Auto-Submitted: no\r\n") == autoreply_skip::none);
    CHECK(screen_with("Precedence: first-class\r\n") == autoreply_skip::none);
    CHECK(screen_with("X-Spam-Flag: NO\r\n") == autoreply_skip::none);
}

TEST_CASE("never to the null sender") {
    CHECK(screen(incoming(plain, ""), cfg(), now) == autoreply_skip::null_sender);
}

TEST_CASE("never when disabled or outside start..end") {
    auto c = cfg();
    c.enabled = false;
    CHECK(screen(incoming(plain), c, now) == autoreply_skip::inactive);
    c = cfg();
    c.start_at = now + 1;
    CHECK(screen(incoming(plain), c, now) == autoreply_skip::inactive);
    c = cfg();
    c.end_at = now - 1;
    CHECK(screen(incoming(plain), c, now) == autoreply_skip::inactive);
    c.start_at = now - 10;
    c.end_at = now;
    CHECK(screen(incoming(plain), c, now) == autoreply_skip::none); // end is inclusive
}

TEST_CASE("never to Auto-Submitted mail other than \"no\"") {
    CHECK(screen_with("Auto-Submitted: auto-replied\r\n") == autoreply_skip::auto_submitted);
    CHECK(screen_with("auto-submitted: Auto-Generated (cron)\r\n") == autoreply_skip::auto_submitted);
    CHECK(screen_with("Auto-Submitted: auto-notified; owner-email=x@y\r\n") ==
          autoreply_skip::auto_submitted);
}

TEST_CASE("never to list mail (any List-* field)") {
    CHECK(screen_with("List-Id: <dev.lists.example>\r\n") == autoreply_skip::list_mail);
    CHECK(screen_with("List-Unsubscribe: <mailto:u@lists.example>\r\n") == autoreply_skip::list_mail);
    CHECK(screen_with("LIST-POST: <mailto:p@lists.example>\r\n") == autoreply_skip::list_mail);
    CHECK(screen_with("X-List-Id: not a list field\r\n") == autoreply_skip::none);
}

TEST_CASE("never to Precedence bulk, list or junk") {
    CHECK(screen_with("Precedence: bulk\r\n") == autoreply_skip::precedence);
    CHECK(screen_with("Precedence: LIST\r\n") == autoreply_skip::precedence);
    CHECK(screen_with("Precedence: junk\r\n") == autoreply_skip::precedence);
}

TEST_CASE("never to spam-flagged mail") {
    CHECK(screen_with("X-Spam-Flag: YES\r\n") == autoreply_skip::spam);
    CHECK(screen_with("X-Spam-Flag: yes\r\n") == autoreply_skip::spam);
}

TEST_CASE("never when the sender asked for no autoreplies (X-Auto-Response-Suppress)") {
    CHECK(screen_with("X-Auto-Response-Suppress: All\r\n") == autoreply_skip::suppressed);
    CHECK(screen_with("X-Auto-Response-Suppress: DR, OOF\r\n") == autoreply_skip::suppressed);
}

TEST_CASE("never to the mailbox itself, or the address the mail was sent to") {
    CHECK(screen(incoming(plain, "bob@example.com"), cfg(), now) == autoreply_skip::own_address);
    CHECK(screen(incoming(plain, "BOB@example.com"), cfg(), now) == autoreply_skip::own_address);
    autoreply_incoming alias{"info@example.com", "bob@example.com", "info@example.com", plain};
    CHECK(screen(alias, cfg(), now) == autoreply_skip::own_address);
}

TEST_CASE("never to system senders") {
    for (const char* s : {"MAILER-DAEMON@remote.example", "postmaster@remote.example",
                          "owner-dev@lists.example", "dev-request@lists.example",
                          "dev-bounces@lists.example", "noreply@shop.example",
                          "no-reply@shop.example", "majordomo@lists.example"})
        CHECK(screen(incoming(plain, s), cfg(), now) == autoreply_skip::system_sender);
    CHECK(screen(incoming(plain, "requester@remote.example"), cfg(), now) == autoreply_skip::none);
}

TEST_CASE("only when the mailbox (or the alias used) is in To/Cc (RFC 3834 §3.1.1)") {
    const std::string bcc = "From: alice@remote.example\r\nTo: team@remote.example\r\n\r\nx\r\n";
    CHECK(screen(incoming(bcc), cfg(), now) == autoreply_skip::not_addressed);
    const std::string cc =
        "From: alice@remote.example\r\nTo: x@remote.example\r\nCc: \"B\" <Bob@Example.com>\r\n\r\nx\r\n";
    CHECK(screen(incoming(cc), cfg(), now) == autoreply_skip::none);
    const std::string longer = "To: bob@example.com.evil.example, jimbob@example.com\r\n\r\nx\r\n";
    CHECK(screen(incoming(longer), cfg(), now) == autoreply_skip::not_addressed);
    const std::string alias_to = "To: info@example.com\r\n\r\nx\r\n";
    autoreply_incoming via_alias{"alice@remote.example", "bob@example.com", "info@example.com", alias_to};
    CHECK(screen(via_alias, cfg(), now) == autoreply_skip::none);
}

TEST_CASE("the reply: headers from RFC 3834, threading, the body in quoted-printable") {
    const std::string orig = "From: alice@remote.example\r\nTo: bob@example.com\r\n"
                             "Subject: Lunch?\r\nMessage-ID: <m2@remote.example>\r\n"
                             "References: <m0@remote.example> <m1@remote.example>\r\n\r\nx\r\n";
    auto b = build_autoreply(incoming(orig), cfg(), std::chrono::system_clock::from_time_t(now));
    auto [head, body] = mime::split(b.message);
    auto f = mime::parse_fields(head);
    CHECK(mime::get(f, "From") == "<bob@example.com>");
    CHECK(mime::get(f, "To") == "<alice@remote.example>");
    CHECK(mime::get(f, "Subject") == "Auto: Lunch?");
    CHECK(mime::get(f, "Auto-Submitted") == "auto-replied");
    CHECK(mime::get(f, "In-Reply-To") == "<m2@remote.example>");
    CHECK(mime::get(f, "References") == "<m0@remote.example> <m1@remote.example> <m2@remote.example>");
    CHECK(mime::get(f, "Message-ID") == b.message_id);
    CHECK(b.message_id.find("@example.com>") != std::string::npos);
    CHECK(mime::get(f, "Date").has_value());
    CHECK(mime::get(f, "Content-Transfer-Encoding") == "quoted-printable");
    CHECK(mime::decode(body, "quoted-printable") == "I am away until Monday.\r\nBack soon = really.\r\n");
    CHECK(b.message.find("\n") == b.message.find("\r\n") + 1); // CRLF line ends
    for (std::size_t p = 0, q; (q = b.message.find("\r\n", p)) != std::string::npos; p = q + 2)
        CHECK(q - p <= 998);
}

TEST_CASE("the reply: configured and UTF-8 subjects, no subject, and an HTML alternative") {
    auto c = cfg();
    c.subject = "Abwesenheitsnotiz: bin im Urlaub — zurück am Montag";
    c.body_html = "<p>Away</p>";
    auto b = build_autoreply(incoming(plain), c, std::chrono::system_clock::from_time_t(now));
    auto [head, body] = mime::split(b.message);
    auto f = mime::parse_fields(head);
    const auto subject = *mime::get(f, "Subject");
    CHECK(subject.rfind("=?UTF-8?B?", 0) == 0);
    CHECK(subject.find("Abwesenheitsnotiz") == std::string::npos);
    auto ct = mime::parse_content_type(*mime::get(f, "Content-Type"));
    CHECK(ct.type == "multipart/alternative");
    auto parts = mime::multipart(body, ct.param("boundary"));
    REQUIRE(parts.size() == 2);
    CHECK(parts[0].find("text/plain") != std::string::npos);
    CHECK(parts[1].find("text/html") != std::string::npos);
    // No Message-ID and no Subject in the original: no In-Reply-To, a default subject.
    const std::string bare = "From: alice@remote.example\r\nTo: bob@example.com\r\n\r\nx\r\n";
    auto b2 = build_autoreply(incoming(bare), cfg(), std::chrono::system_clock::from_time_t(now));
    auto f2 = mime::parse_fields(mime::split(b2.message).first);
    CHECK(mime::get(f2, "Subject") == "Auto: (no subject)");
    CHECK_FALSE(mime::get(f2, "In-Reply-To"));
    // A folded original subject stays one line; a header-injection attempt stays in it.
    const std::string evil = "To: bob@example.com\r\nSubject: a\r\n b\r\n\r\nx\r\n";
    auto b3 = build_autoreply(incoming(evil), cfg(), std::chrono::system_clock::from_time_t(now));
    CHECK(mime::get(mime::parse_fields(mime::split(b3.message).first), "Subject") == "Auto: a b");
}

TEST_CASE("claim_reply_slot: once per sender per interval, per mailbox") {
    cartero::test::temp_dir dir;
    auto store = queue::store::open({dir.path / "queue.db"});
    auto claim = [&](std::string mailbox, std::string sender, int days, std::int64_t t) {
        auto p = std::make_shared<std::promise<bool>>();
        auto f = p->get_future();
        REQUIRE(store->run_on_writer([=](sqlite3* db) {
            p->set_value(claim_reply_slot(db, mailbox, sender, days, t));
        }));
        return f.get();
    };
    CHECK(claim("bob@example.com", "alice@remote.example", 7, now));
    CHECK_FALSE(claim("bob@example.com", "alice@remote.example", 7, now + 1));
    CHECK_FALSE(claim("bob@example.com", "alice@remote.example", 7, now + 7 * 86400 - 1));
    CHECK(claim("carol@example.com", "alice@remote.example", 7, now + 1)); // other mailbox
    CHECK(claim("bob@example.com", "dave@remote.example", 7, now + 1));    // other sender
    CHECK(claim("bob@example.com", "alice@remote.example", 7, now + 7 * 86400));
    CHECK_FALSE(claim("bob@example.com", "alice@remote.example", 1, now + 7 * 86400 - 5)); // clock back
    store->stop();
    CHECK(cartero::test::query_int(dir.path / "queue.db", "SELECT COUNT(*) FROM autoreply_sent") == 3);
}
