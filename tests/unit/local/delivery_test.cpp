// tests/unit/local/delivery_test.cpp — maildir_writer and delivery_agent: once-only, quota, recovery.
#include "daemon/local/delivery_agent.hpp"
#include "daemon/local/maildir_quota.hpp"
#include "daemon/local/maildir_writer.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <fstream>
#include <future>
#include <sstream>

using namespace cartero;
using namespace cartero::local;
using cartero::test::query_int;
using cartero::test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

delivery_request request(const fs::path& md, const std::string& body) {
    delivery_request r;
    r.queue_id = "1K0TESTQUEUE0001";
    r.row_id = 42;
    r.received_at = 1700000000;
    r.mail_from = "alice@example.org";
    r.deliver_to = "bob@example.com";
    r.maildir = md;
    r.body = body;
    r.redelivery = false;
    return r;
}

queue::message message_to(const std::vector<fs::path>& maildirs, std::uint64_t quota = 0,
                          bool remote_too = false) {
    queue::message m;
    m.id = queue::new_queue_id();
    m.mail_from = "alice@example.org";
    m.received_at = 1700000000;
    m.body = "Subject: hi\r\n\r\nhello\r\n";
    for (const auto& md : maildirs) {
        queue::recipient r;
        r.rcpt_to = r.deliver_to = md.filename().string() + "@example.com";
        r.maildir = md.string();
        r.quota_bytes = quota;
        m.rcpts.push_back(r);
    }
    if (remote_too) {
        queue::recipient r;
        r.rcpt_to = r.deliver_to = "far@example.net";
        r.kind = queue::rcpt_kind::remote;
        m.rcpts.push_back(r);
    }
    return m;
}

void enqueue_wait(queue::store& s, queue::message m) {
    std::promise<std::optional<std::string>> p;
    auto f = p.get_future();
    s.enqueue(std::move(m), [&p](auto e) { p.set_value(e); });
    REQUIRE_FALSE(f.get());
}

} // namespace

TEST_CASE("maildir_writer writes exactly one file with Return-Path and Delivered-To", "[maildir_writer]") {
    temp_dir t;
    const auto md = t.path / "mail" / "example.com" / "bob"; // parents do not exist yet
    const std::string body = "Subject: x\r\n\r\nbody\r\n";
    maildir_writer w("mx.example.com");
    auto o = w.deliver(request(md, body));
    REQUIRE(o.status == delivery_status::delivered);
    CHECK(w.flush().empty());
    const std::string expect =
        "Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.com\r\n" + body;
    CHECK(o.size == expect.size());
    CHECK(o.file_name == "1700000000.1K0TESTQUEUE0001_42.mx.example.com,S=" +
                             std::to_string(expect.size()));
    auto names = files_in(md / "new");
    REQUIRE(names.size() == 1);
    CHECK(names[0] == o.file_name);
    CHECK(slurp(md / "new" / names[0]) == expect);
    CHECK(files_in(md / "tmp").empty());
    CHECK(files_in(md / "cur").empty());
    CHECK((fs::status(md / "new").permissions() & fs::perms::all) == fs::perms::owner_all);
}

TEST_CASE("the null sender gets Return-Path: <>; host separators are escaped", "[maildir_writer]") {
    temp_dir t;
    maildir_writer w("odd/host:name");
    auto r = request(t.path / "m", "x\r\n");
    r.mail_from = "";
    auto o = w.deliver(r);
    REQUIRE(o.status == delivery_status::delivered);
    CHECK(w.flush().empty());
    CHECK(o.file_name.find("odd\\057host\\072name,S=") != std::string::npos);
    CHECK(slurp(t.path / "m" / "new" / o.file_name).rfind("Return-Path: <>\r\n", 0) == 0);
}

TEST_CASE("a redelivery finds the earlier copy in new/ or in cur/ and writes nothing", "[maildir_writer]") {
    temp_dir t;
    const auto md = t.path / "bob";
    const std::string body = "Subject: x\r\n\r\nbody\r\n";
    maildir_writer w("mx");
    auto first = w.deliver(request(md, body));
    REQUIRE(first.status == delivery_status::delivered);
    w.flush();

    auto again = request(md, body);
    again.redelivery = true;
    auto o = w.deliver(again);
    CHECK(o.status == delivery_status::duplicate);
    CHECK(w.flush().empty());
    CHECK(files_in(md / "new").size() == 1);

    // Dovecot saw it: new/<name> -> cur/<name>:2,S
    fs::rename(md / "new" / first.file_name, md / "cur" / (first.file_name + ":2,S"));
    o = w.deliver(again);
    CHECK(o.status == delivery_status::duplicate);
    CHECK(o.file_name == first.file_name + ":2,S");
    CHECK(files_in(md / "new").empty());
    CHECK(files_in(md / "cur").size() == 1);
    CHECK(files_in(md / "tmp").empty());

    // Another row of the same message is another delivery.
    auto other = request(md, body);
    other.row_id = 43;
    CHECK(w.deliver(other).status == delivery_status::delivered);
    CHECK(w.flush().empty());
    CHECK(files_in(md / "new").size() == 1);
}

TEST_CASE("over quota: nothing written, 552 5.2.2; under quota: maildirsize grows", "[maildir_writer]") {
    temp_dir t;
    const auto md = t.path / "bob";
    maildir_writer w("mx");
    auto r = request(md, std::string(100, 'a'));
    r.quota_bytes = 400;
    auto o = w.deliver(r);
    REQUIRE(o.status == delivery_status::delivered);
    CHECK(w.flush().empty());
    CHECK(slurp(md / "maildirsize") == "400S\n0 0\n" + std::to_string(o.size) + " 1\n");

    r.row_id = 43;
    REQUIRE(w.deliver(r).status == delivery_status::delivered); // 2 x ~165 = ~330 <= 400
    r.row_id = 44;
    // The second copy is only staged (not in maildirsize yet) and still counts against quota.
    auto full = w.deliver(r);
    CHECK(w.flush().empty());
    CHECK(full.status == delivery_status::over_quota);
    CHECK(full.reply.code == 552);
    CHECK(full.reply.enhanced == "5.2.2");
    CHECK(files_in(md / "new").size() == 2);
    CHECK(files_in(md / "tmp").empty());
    CHECK_FALSE(would_fit(md, 400, o.size));
}

TEST_CASE("a batch is invisible until flush(): then all of it appears at once", "[maildir_writer]") {
    temp_dir t;
    const auto md = t.path / "bob";
    maildir_writer w("mx");
    const std::string body = "Subject: batch\r\n\r\nx\r\n"; // outlives the requests' views
    for (std::int64_t row = 1; row <= 5; ++row) {
        auto r = request(md, body);
        r.row_id = row;
        REQUIRE(w.deliver(r).status == delivery_status::delivered);
    }
    // Nothing may be visible (or marked delivered) before its data is durable.
    CHECK(files_in(md / "new").empty());
    CHECK(files_in(md / "tmp").size() == 5);
    CHECK(w.flush().empty());
    CHECK(files_in(md / "new").size() == 5);
    CHECK(files_in(md / "tmp").empty());
    CHECK(quota_usage(md).count == 5);
}

TEST_CASE("an unusable Maildir path gives a temporary failure, not a crash", "[maildir_writer]") {
    temp_dir t;
    std::ofstream(t.path / "file") << "x";
    maildir_writer w("mx");
    auto o = w.deliver(request(t.path / "file" / "bob", "x\r\n"));
    CHECK(o.status == delivery_status::failed);
    CHECK(o.reply.code == 451);
    CHECK(o.reply.enhanced == "4.3.0");
}

TEST_CASE("agent delivers committed messages and records them in the queue", "[delivery_agent]") {
    temp_dir t;
    const auto db = t.path / "queue.db";
    const auto a = t.path / "mail" / "a", b = t.path / "mail" / "b";
    auto s = queue::store::open({db});
    auto agent = delivery_agent::start(*s, {"mx"});
    enqueue_wait(*s, message_to({a, b}));
    enqueue_wait(*s, message_to({a}, 0, true)); // plus a remote recipient
    s->flush(); // the hook runs after done(): let it hand the work over first
    REQUIRE(agent->wait_idle(std::chrono::seconds(10)));
    agent->stop();
    s->flush();
    CHECK(files_in(a / "new").size() == 2);
    CHECK(files_in(b / "new").size() == 1);
    CHECK(agent->delivered() == 3);
    // The all-local message is gone; the one with a remote recipient waits for outbound.
    CHECK(query_int(db, "SELECT count(*) FROM messages") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE state='queued' AND kind='remote'") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE kind='local' AND state<>'delivered'") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM delivery_log WHERE result='delivered'") == 3);
}

TEST_CASE("over quota through the agent: deferred with 552, nothing written", "[delivery_agent]") {
    temp_dir t;
    const auto db = t.path / "queue.db";
    const auto a = t.path / "mail" / "a";
    auto s = queue::store::open({db});
    auto agent = delivery_agent::start(*s, {"mx"});
    enqueue_wait(*s, message_to({a}, 10)); // 10-byte quota
    s->flush(); // the hook runs after done(): let it hand the work over first
    REQUIRE(agent->wait_idle(std::chrono::seconds(10)));
    agent->stop();
    s->flush();
    CHECK(files_in(a / "new").empty());
    CHECK(agent->deferred() == 1);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE state='deferred' AND "
                        "last_reply='552 5.2.2 Mailbox full' AND next_attempt_at=0") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM messages") == 1); // kept for the bounce
}

TEST_CASE("recovery after reopen delivers what was accepted but not delivered", "[delivery_agent]") {
    temp_dir t;
    const auto db = t.path / "queue.db";
    const auto a = t.path / "mail" / "a", b = t.path / "mail" / "b";
    {
        auto s = queue::store::open({db}); // no agent: carterod died before delivering
        enqueue_wait(*s, message_to({a, b}));
        enqueue_wait(*s, message_to({b}));
    }
    auto s = queue::store::open({db});
    auto agent = delivery_agent::start(*s, {"mx"});
    s->flush(); // the hook runs after done(): let it hand the work over first
    REQUIRE(agent->wait_idle(std::chrono::seconds(10)));
    agent->stop();
    s->flush();
    CHECK(files_in(a / "new").size() == 1);
    CHECK(files_in(b / "new").size() == 2);
    CHECK(query_int(db, "SELECT count(*) FROM messages") == 0);
}

TEST_CASE("a lost 'delivered' mark: recovery writes nothing twice, also after Dovecot moved it", "[delivery_agent]") {
    temp_dir t;
    const auto db = t.path / "queue.db";
    const auto a = t.path / "mail" / "a", b = t.path / "mail" / "b";
    {
        auto s = queue::store::open({db});
        auto agent = delivery_agent::start(*s, {"mx"});
        auto m = message_to({a, b}, 0, true); // remote recipient keeps the message row
        enqueue_wait(*s, m);
        s->flush(); // the hook runs after done(): let it hand the work over first
        REQUIRE(agent->wait_idle(std::chrono::seconds(10)));
        agent->stop();
        s->stop();
    }
    REQUIRE(files_in(a / "new").size() == 1);
    REQUIRE(files_in(b / "new").size() == 1);
    // Pretend the marks never reached the disk (power cut under synchronous=NORMAL)...
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "UPDATE recipients SET state='queued' WHERE kind='local'", nullptr,
                         nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
    // ... and Dovecot has shown b's copy to the user meanwhile.
    const auto bname = files_in(b / "new").at(0);
    fs::rename(b / "new" / bname, b / "cur" / (bname + ":2,S"));

    auto s = queue::store::open({db});
    auto agent = delivery_agent::start(*s, {"mx"});
    s->flush(); // the hook runs after done(): let it hand the work over first
    REQUIRE(agent->wait_idle(std::chrono::seconds(10)));
    agent->stop();
    s->flush();
    CHECK(files_in(a / "new").size() == 1);
    CHECK(files_in(b / "new").empty());
    CHECK(files_in(b / "cur").size() == 1);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE kind='local' AND state='delivered'") == 2);
}
