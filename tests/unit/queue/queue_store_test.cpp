// tests/unit/queue/queue_store_test.cpp — group commit, durability across reopen, errors, marks.
#include "daemon/queue/queue_store.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

using namespace cartero;
using cartero::test::query_int;
using cartero::test::enqueue_wait;
using cartero::test::temp_dir;

namespace {

queue::message make_message(int n, bool with_remote = false) {
    queue::message m;
    m.id = queue::new_queue_id();
    m.mail_from = "sender@example.org";
    m.helo = "client.example.org";
    m.client_ip = "192.0.2.1";
    m.received_at = 1700000000;
    m.body = "Subject: test " + std::to_string(n) + "\r\n\r\nbody " + std::to_string(n) + "\r\n";
    queue::recipient r;
    r.rcpt_to = r.deliver_to = "user" + std::to_string(n % 3) + "@example.com";
    r.maildir = "/tmp/none/" + std::to_string(n % 3);
    m.rcpts.push_back(r);
    if (with_remote) {
        queue::recipient x;
        x.rcpt_to = x.deliver_to = "far@example.net";
        x.kind = queue::rcpt_kind::remote;
        m.rcpts.push_back(x);
    }
    return m;
}

} // namespace

TEST_CASE("group commit: 8 sessions x 200 messages, every done once, few commits", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "state" / "queue.db"; // the state dir does not exist yet
    constexpr int threads = 8, per_thread = 200;
    std::atomic<int> ok{0}, failed{0};
    std::mutex mu;
    std::map<std::string, int> done_count;
    {
        auto s = queue::store::open({db});
        std::vector<std::thread> ts;
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    auto m = make_message(t * per_thread + i, i % 2 == 0);
                    auto id = m.id;
                    auto e = enqueue_wait(*s, std::move(m));
                    (e ? failed : ok)++;
                    std::lock_guard lk(mu);
                    done_count[id]++;
                }
            });
        for (auto& t : ts) t.join();
        CHECK(s->messages_committed() == threads * per_thread);
        // Each session waits for its own fsync; while the writer syncs one batch the others
        // queue up, so a commit covers several messages.
        CHECK(s->commits() < threads * per_thread / 2);
        INFO("commits=" << s->commits());
        s->stop();
    }
    CHECK(ok == threads * per_thread);
    CHECK(failed == 0);
    REQUIRE(done_count.size() == threads * per_thread);
    for (auto& [id, n] : done_count) REQUIRE(n == 1);
    // What a restarted process sees.
    CHECK(query_int(db, "SELECT count(*) FROM messages") == threads * per_thread);
    CHECK(query_int(db, "SELECT count(*) FROM recipients") == threads * per_thread * 3 / 2);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE state='queued'") ==
          threads * per_thread * 3 / 2);
    CHECK(query_int(db, "SELECT count(*) FROM messages WHERE size = length(body)") ==
          threads * per_thread);
}

TEST_CASE("fire-and-forget enqueues are batched up to max_batch", "[queue_store]") {
    temp_dir dir;
    auto s = queue::store::open({dir.path / "queue.db", 64});
    std::atomic<int> ok{0};
    for (int i = 0; i < 1000; ++i)
        s->enqueue(make_message(i), [&](std::optional<std::string> e) { if (!e) ok++; });
    s->stop(); // commits what is pending; every done has run on return
    CHECK(ok == 1000);
    CHECK(s->commits() >= 1000 / 64);
    CHECK(s->commits() < 100);
}

TEST_CASE("open on an unusable path throws a readable error", "[queue_store]") {
    temp_dir dir;
    std::ofstream(dir.path / "file") << "x";
    try {
        queue::store::open({dir.path / "file" / "queue.db"});
        FAIL("open succeeded");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("queue.db") != std::string::npos);
    }
    // queue.db that is not a database
    std::ofstream(dir.path / "garbage.db") << std::string(4096, 'g');
    CHECK_THROWS_AS(queue::store::open({dir.path / "garbage.db"}), std::runtime_error);
}

TEST_CASE("a duplicate queue id fails that message only", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    auto s = queue::store::open({db});
    auto a = make_message(1);
    auto b = make_message(2);
    auto dup = make_message(3);
    dup.id = a.id;
    std::vector<std::promise<std::optional<std::string>>> ps(3);
    std::vector<std::future<std::optional<std::string>>> fs;
    for (auto& p : ps) fs.push_back(p.get_future());
    // Enqueued back to back: normally one batch.
    s->enqueue(a, [&](auto e) { ps[0].set_value(e); });
    s->enqueue(dup, [&](auto e) { ps[1].set_value(e); });
    s->enqueue(b, [&](auto e) { ps[2].set_value(e); });
    CHECK_FALSE(fs[0].get());
    auto dup_err = fs[1].get();
    REQUIRE(dup_err);
    CHECK(dup_err->find("UNIQUE") != std::string::npos);
    CHECK_FALSE(fs[2].get());
    s->stop();
    CHECK(query_int(db, "SELECT count(*) FROM messages") == 2);
    CHECK(query_int(db, "SELECT count(*) FROM recipients") == 2);
}

TEST_CASE("a batch that cannot commit reports errors and leaves nothing", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    queue::store_settings st{db};
    st.busy_timeout_ms = 50;
    auto s = queue::store::open(st);
    // Another process holds the write lock: the writer's BEGIN IMMEDIATE times out.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    auto e1 = enqueue_wait(*s, make_message(1));
    REQUIRE(e1);
    CHECK(e1->find("locked") != std::string::npos);
    REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    // The store recovers once the lock is gone.
    CHECK_FALSE(enqueue_wait(*s, make_message(2)));
    s->stop();
    CHECK(query_int(db, "SELECT count(*) FROM messages") == 1);
    CHECK(s->messages_committed() == 1);
}

TEST_CASE("enqueue after stop fails at once", "[queue_store]") {
    temp_dir dir;
    auto s = queue::store::open({dir.path / "queue.db"});
    s->stop();
    bool called = false;
    s->enqueue(make_message(1), [&](auto e) { called = e.has_value(); });
    CHECK(called);
    CHECK_THROWS_AS(s->load_pending_local(), std::runtime_error);
}

TEST_CASE("the committed hook gets the message and its recipient row ids after done", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    auto s = queue::store::open({db});
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::shared_ptr<const queue::message>, std::vector<std::int64_t>>> got;
    std::atomic<bool> done_before_hook{false};
    std::atomic<bool> done_ran{false};
    s->set_on_committed([&](std::shared_ptr<const queue::message> m, std::vector<std::int64_t> ids) {
        done_before_hook = done_ran.load();
        std::lock_guard lk(mu);
        got.emplace_back(std::move(m), std::move(ids));
        cv.notify_all();
    });
    auto m = make_message(7, true);
    const auto body = m.body;
    s->enqueue(m, [&](auto e) { done_ran = !e; });
    {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return !got.empty(); }));
    }
    CHECK(done_before_hook);
    REQUIRE(got[0].second.size() == 2);
    CHECK(got[0].first->body == body);
    CHECK(got[0].first->rcpts[1].kind == queue::rcpt_kind::remote);
    s->stop();
    CHECK(query_int(db, "SELECT kind = 'local' FROM recipients WHERE id = " +
                            std::to_string(got[0].second[0])) == 1);
    CHECK(query_int(db, "SELECT kind = 'remote' FROM recipients WHERE id = " +
                            std::to_string(got[0].second[1])) == 1);
}

TEST_CASE("recovery after reopen returns queued local recipients with their bodies", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    std::string body;
    std::string id;
    {
        auto s = queue::store::open({db});
        auto m = make_message(1, true);
        body = m.body;
        id = m.id;
        REQUIRE_FALSE(enqueue_wait(*s, m));
        REQUIRE_FALSE(enqueue_wait(*s, make_message(2)));
        // no stop(): the destructor stops; what matters is what is on disk
    }
    auto s = queue::store::open({db});
    auto pending = s->load_pending_local();
    REQUIRE(pending.size() == 2);
    const auto& p = pending[0].msg->id == id ? pending[0] : pending[1];
    CHECK(p.msg->body == body);
    CHECK(p.msg->mail_from == "sender@example.org");
    CHECK(p.msg->received_at == 1700000000);
    REQUIRE(p.msg->rcpts.size() == 1); // the remote recipient is not local work
    CHECK(p.row_ids.size() == 1);
    CHECK(p.msg->rcpts[0].kind == queue::rcpt_kind::local);
}

TEST_CASE("marks: delivered deletes the message, deferred keeps it, both are logged", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    auto s = queue::store::open({db});
    std::vector<std::vector<std::int64_t>> ids;
    std::mutex mu;
    s->set_on_committed([&](auto, std::vector<std::int64_t> r) {
        std::lock_guard lk(mu);
        ids.push_back(r);
    });
    auto m1 = make_message(1);
    m1.rcpts.push_back(m1.rcpts[0]);
    m1.rcpts[1].deliver_to = "second@example.com";
    REQUIRE_FALSE(enqueue_wait(*s, m1));
    REQUIRE_FALSE(enqueue_wait(*s, make_message(2)));
    REQUIRE_FALSE(enqueue_wait(*s, make_message(3)));
    s->flush();
    std::lock_guard lk(mu);
    REQUIRE(ids.size() == 3);

    // message 1: one delivered, one deferred without retry (mailbox full) -> kept
    s->mark_delivered({ids[0][0]});
    s->mark_deferred(ids[0][1], "552 5.2.2 Mailbox full");
    // message 2: delivered -> deleted
    s->mark_delivered({ids[1][0]});
    // message 3: temporary failure with a retry time -> recovered again
    s->mark_deferred(ids[2][0], "451 4.3.0 Maildir write failed", 1700000300);
    s->flush();

    CHECK(query_int(db, "SELECT count(*) FROM messages") == 2);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE state='delivered'") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE state='deferred' "
                        "AND last_reply LIKE '552 5.2.2%' AND next_attempt_at = 0") == 1);
    CHECK(query_int(db, "SELECT count(*) FROM delivery_log WHERE result='delivered'") == 2);
    CHECK(query_int(db, "SELECT count(*) FROM delivery_log WHERE result='deferred'") == 2);
    CHECK(query_int(db, "SELECT attempts FROM recipients WHERE id=" + std::to_string(ids[2][0])) == 1);

    auto pending = s->load_pending_local();
    REQUIRE(pending.size() == 1); // only the retryable one; 552 waits for the bounce issue
    CHECK(pending[0].row_ids == ids[2]);

    // A mark for a row that is already gone is harmless.
    s->mark_delivered({ids[1][0]});
    s->flush();
    CHECK(query_int(db, "SELECT count(*) FROM delivery_log") == 4);
}

TEST_CASE("results wait for the next enqueue, within results_delay and results_alone_max", "[queue_store]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    queue::store_settings settings{db};
    settings.results_delay = std::chrono::seconds(30); // longer than this test: only an enqueue,
                                                       // a flush or the count lets them go
    settings.results_alone_max = 3;
    auto s = queue::store::open(settings);
    std::vector<std::int64_t> rows;
    std::mutex mu;
    s->set_on_committed([&](auto, std::vector<std::int64_t> r) {
        std::lock_guard lk(mu);
        rows.push_back(r.at(0));
    });
    for (int i = 0; i < 6; ++i) REQUIRE_FALSE(enqueue_wait(*s, make_message(i)));
    s->flush();
    const auto rows_copy = [&] {
        std::lock_guard lk(mu);
        return rows;
    }();
    REQUIRE(rows_copy.size() == 6);
    const auto left = [&] { return query_int(db, "SELECT count(*) FROM messages"); };

    // A lone result waits (no client waits for it)…
    s->mark_delivered({rows_copy[0]});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(left() == 6);
    // …and rides in the next enqueue's transaction: committed when that 250 would be sent.
    REQUIRE_FALSE(enqueue_wait(*s, make_message(10)));
    CHECK(left() == 6); // one message gone, one added

    // Enough results pending go on their own, without an enqueue or a flush.
    s->mark_delivered({rows_copy[1]});
    s->mark_delivered({rows_copy[2]});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(left() == 6); // two pending, fewer than results_alone_max
    s->mark_delivered({rows_copy[3], rows_copy[4], rows_copy[5]}); // five pending: all go
    for (int i = 0; i < 100 && left() != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(left() == 1); // message 10

    // flush() does not wait out the delay either.
    const auto row10 = query_int(db, "SELECT id FROM recipients WHERE state = 'queued'");
    s->mark_deferred(row10, "451 4.3.0 later", 1700000300);
    const auto t0 = std::chrono::steady_clock::now();
    s->flush();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK(query_int(db, "SELECT count(*) FROM recipients WHERE state = 'deferred'") == 1);
}
