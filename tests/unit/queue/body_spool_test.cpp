// tests/unit/queue/body_spool_test.cpp — large bodies in spool/<id>: written, synced, read back,
// removed only after their row is durably gone, leftovers swept at start.
#include "daemon/queue/body_spool.hpp"
#include "daemon/queue/queue_admin.hpp"
#include "daemon/queue/queue_store.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <iterator>
#include <sstream>

using namespace cartero;
using cartero::test::query_int;
using cartero::test::enqueue_wait;
using cartero::test::temp_dir;

namespace {

queue::message big_message(std::size_t size, const std::string& local_to = "user@example.com") {
    queue::message m;
    m.id = queue::new_queue_id();
    m.mail_from = "sender@example.org";
    m.received_at = 1700000000;
    m.body = "Subject: big\r\n\r\n";
    while (m.body.size() < size) m.body += ".line " + std::to_string(m.body.size()) + "\r\n";
    queue::recipient r;
    r.rcpt_to = r.deliver_to = local_to;
    r.maildir = "/tmp/none/user";
    m.rcpts.push_back(r);
    return m;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

queue::store_settings settings(const std::filesystem::path& db, std::size_t threshold = 1000) {
    queue::store_settings s{db};
    s.spool_threshold = threshold;
    return s;
}

} // namespace

TEST_CASE("spool: a large body lives in its file, a small one in queue.db", "[body_spool]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    const auto spool = dir.path / "spool";
    auto big = big_message(5000), small = big_message(100);
    const auto big_id = big.id, small_id = small.id, big_body = big.body;
    {
        auto s = queue::store::open(settings(db));
        CHECK_FALSE(enqueue_wait(*s, big));
        CHECK_FALSE(enqueue_wait(*s, small));
        s->stop();
    }
    CHECK(slurp(spool / big_id) == big_body);
    CHECK_FALSE(std::filesystem::exists(spool / small_id));
    CHECK(query_int(db, "SELECT count(*) FROM messages WHERE id='" + big_id +
                            "' AND spooled=1 AND length(body)=0 AND size=" +
                            std::to_string(big_body.size())) == 1);
    CHECK(query_int(db, "SELECT count(*) FROM messages WHERE id='" + small_id +
                            "' AND spooled=0 AND length(body)>0") == 1);

    // After a restart the local recovery reads the body from the file.
    auto s = queue::store::open(settings(db));
    // …and so does the outbound side, without the writer: the file or nothing.
    auto direct = s->read_spooled(big_id);
    REQUIRE(direct);
    CHECK(*direct == big_body);
    CHECK_FALSE(s->read_spooled(small_id));
    CHECK_FALSE(s->read_spooled("../queue.db"));
    auto pending = s->load_pending_local();
    REQUIRE(pending.size() == 2);
    for (const auto& p : pending)
        if (p.msg->id == big_id) CHECK(p.msg->body == big_body);
}

TEST_CASE("spool: the file goes once the delivered message's deletion is durable", "[body_spool]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    const auto spool = dir.path / "spool";
    auto s = queue::store::open(settings(db));
    std::vector<std::int64_t> rows;
    bool spooled_flag = false;
    s->set_on_committed([&](std::shared_ptr<const queue::message> msg, std::vector<std::int64_t> r) {
        rows = std::move(r);
        spooled_flag = msg->spooled;
    });
    auto m = big_message(4000);
    const auto id = m.id;
    REQUIRE_FALSE(enqueue_wait(*s, m));
    s->flush(); // the hook runs after `done`, on the writer thread
    REQUIRE(rows.size() == 1);
    CHECK(spooled_flag);
    REQUIRE(std::filesystem::exists(spool / id));

    s->mark_delivered(rows);
    s->flush();
    // The marks committed alone, durably because a spooled message went: row and file are gone.
    CHECK(query_int(db, "SELECT count(*) FROM messages WHERE id='" + id + "'") == 0);
    CHECK_FALSE(std::filesystem::exists(spool / id));
}

TEST_CASE("spool: a queue_admin delete removes the file, a refused message leaves none",
          "[body_spool]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    const auto spool = dir.path / "spool";
    auto s = queue::store::open(settings(db));
    queue::queue_admin admin(*s, db);
    auto m = big_message(3000);
    const auto id = m.id;
    REQUIRE_FALSE(enqueue_wait(*s, m));
    auto shown = admin.show(id);
    REQUIRE(shown);
    CHECK(shown->headers.find("Subject: big") != std::string::npos);
    admin.remove(id);
    s->flush();
    CHECK_FALSE(std::filesystem::exists(spool / id));

    // The same queue id again: its file is refused (O_EXCL) before anything is written.
    auto a = big_message(3000);
    auto b = a;
    b.body = "different\r\n" + b.body;
    REQUIRE_FALSE(enqueue_wait(*s, a));
    auto err = enqueue_wait(*s, b);
    REQUIRE(err);
    CHECK(err->find("queue spool") != std::string::npos);
    CHECK(slurp(spool / a.id) == a.body); // the first message's file is untouched

    // A small message whose id is taken by a spooled one fails at INSERT: nothing left over.
    auto c = big_message(3000);
    auto d = big_message(10);
    d.id = c.id;
    REQUIRE_FALSE(enqueue_wait(*s, d));
    REQUIRE(enqueue_wait(*s, c)); // duplicate queue id → constraint error
    CHECK_FALSE(std::filesystem::exists(spool / c.id));
    CHECK(query_int(db, "SELECT count(*) FROM messages WHERE id='" + c.id + "' AND spooled=0") == 1);
}

TEST_CASE("spool: start sweeps files without a row and keeps the others", "[body_spool]") {
    temp_dir dir;
    const auto db = dir.path / "queue.db";
    const auto spool = dir.path / "spool";
    auto m = big_message(3000);
    const auto id = m.id;
    {
        auto s = queue::store::open(settings(db));
        REQUIRE_FALSE(enqueue_wait(*s, m));
    }
    std::ofstream(spool / "ORPHAN123") << "left by a crash before COMMIT";
    std::ofstream(spool / "not-a-queue-id.txt") << "not ours: left alone";
    {
        auto s = queue::store::open(settings(db));
        CHECK_FALSE(std::filesystem::exists(spool / "ORPHAN123"));
        CHECK(std::filesystem::exists(spool / "not-a-queue-id.txt"));
        CHECK(slurp(spool / id) == m.body);
    }
    // A spooled row whose file is gone: recovery skips it (never an empty body), others load.
    std::filesystem::remove(spool / id);
    auto s = queue::store::open(settings(db));
    REQUIRE_FALSE(enqueue_wait(*s, big_message(10)));
    auto pending = s->load_pending_local();
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].msg->id != id);
    CHECK_FALSE(pending[0].msg->body.empty());
}

TEST_CASE("spool: queue ids that are not plain names are refused", "[body_spool]") {
    CHECK(queue::spool_name_ok("0ABCdef9"));
    CHECK_FALSE(queue::spool_name_ok(""));
    CHECK_FALSE(queue::spool_name_ok("../queue.db"));
    CHECK_FALSE(queue::spool_name_ok("a/b"));
    CHECK_FALSE(queue::spool_name_ok(std::string(65, 'A')));
    temp_dir dir;
    auto s = queue::store::open(settings(dir.path / "queue.db"));
    auto m = big_message(3000);
    m.id = "../escape";
    auto err = enqueue_wait(*s, m);
    REQUIRE(err);
    CHECK_FALSE(std::filesystem::exists(dir.path / "escape"));
}

namespace {

std::size_t entries(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
    return n;
}

} // namespace

TEST_CASE("spool: a removed file is reused for the next body, never showing the old one",
          "[body_spool]") {
    temp_dir dir;
    const auto spool = dir.path / "spool", reuse = dir.path / "spool-reuse";
    queue::body_spool sp(spool);
    const std::string a(5000, 'a'), b(1200, 'b'), c(9000, 'c');
    sp.write("AAA1", a);
    REQUIRE(sp.remove("AAA1"));
    CHECK_FALSE(std::filesystem::exists(spool / "AAA1"));
    CHECK_FALSE(sp.read("AAA1"));
    CHECK(sp.reusable_files() == 1);
    CHECK(entries(reuse) == 1);

    sp.write("BBB2", b); // shorter than the reused file: truncated, no 'a' left
    CHECK(sp.reusable_files() == 0);
    CHECK(entries(reuse) == 0);
    CHECK(slurp(spool / "BBB2") == b);
    CHECK(sp.read("BBB2") == b);
    CHECK((std::filesystem::status(spool / "BBB2").permissions() & std::filesystem::perms::all) ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    REQUIRE(sp.remove("BBB2"));
    sp.write("CCC3", c); // longer: extended
    CHECK(slurp(spool / "CCC3") == c);
    CHECK(sp.list() == std::vector<std::string>{"CCC3"});

    // The name of a live file is never taken over by a reused one.
    REQUIRE(sp.remove("CCC3"));
    sp.write("DDD4", b);
    CHECK_THROWS(sp.write("DDD4", a));
    CHECK(slurp(spool / "DDD4") == b);

    // Removing a missing file is fine and pools nothing.
    CHECK(sp.remove("NOPE5"));
    CHECK(sp.reusable_files() == 0);
}

TEST_CASE("spool: the reuse pool is bounded and emptied at start", "[body_spool]") {
    temp_dir dir;
    const auto spool = dir.path / "spool", reuse = dir.path / "spool-reuse";
    {
        queue::body_spool sp(spool);
        // Too large for the pool: unlinked.
        sp.write("HUGE1", std::string(queue::body_spool::reuse_max_file_bytes + 1, 'h'));
        REQUIRE(sp.remove("HUGE1"));
        CHECK(sp.reusable_files() == 0);
        CHECK(entries(reuse) == 0);
        // At most reuse_max_files files: the rest are unlinked.
        const std::size_t n = queue::body_spool::reuse_max_files + 5;
        for (std::size_t i = 0; i < n; ++i) sp.write("F" + std::to_string(i), "x\r\n");
        for (std::size_t i = 0; i < n; ++i) REQUIRE(sp.remove("F" + std::to_string(i)));
        CHECK(sp.reusable_files() == queue::body_spool::reuse_max_files);
        CHECK(entries(reuse) == queue::body_spool::reuse_max_files);
        CHECK(entries(spool) == 0);
    }
    std::ofstream(reuse / "stray") << "left by the last run";
    queue::body_spool again(spool);
    CHECK(entries(reuse) == 0);
    CHECK(again.reusable_files() == 0);
    again.write("NEW1", "fresh\r\n");
    CHECK(slurp(spool / "NEW1") == "fresh\r\n");
}

TEST_CASE("spool: the pool's byte limit holds", "[body_spool]") {
    temp_dir dir;
    const auto spool = dir.path / "spool";
    queue::body_spool sp(spool);
    const std::size_t each = queue::body_spool::reuse_max_file_bytes; // largest a pool keeps
    const std::size_t fit = queue::body_spool::reuse_max_bytes / each;
    const std::string body(each, 'm');
    for (std::size_t i = 0; i < fit + 3; ++i) sp.write("M" + std::to_string(i), body);
    for (std::size_t i = 0; i < fit + 3; ++i) REQUIRE(sp.remove("M" + std::to_string(i)));
    CHECK(sp.reusable_files() == fit);
}
