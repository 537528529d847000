// tests/unit/queue/wal_write_batching_test.cpp — the WAL write-batching VFS: fewer writes, and
// nothing a reader, a crash or a big transaction could tell apart from the default VFS.
#include "daemon/queue/wal_write_batching.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <string>
#include <sys/wait.h>
#include <unistd.h>

using cartero::test::query_int;
using cartero::test::temp_dir;

namespace {

sqlite3* open_db(const std::filesystem::path& p, bool batching) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(p.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            batching ? cartero::queue::wal_write_batching_vfs() : nullptr) == SQLITE_OK);
    return db;
}

int exec(sqlite3* db, const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }

std::int64_t scalar(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    auto v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

std::string text(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    std::string v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

} // namespace

TEST_CASE("wal batching: a reader sees every commit at once, with far fewer writes", "[wal_batching]") {
    temp_dir dir;
    const auto path = dir.path / "t.db";
    sqlite3* w = open_db(path, true);
    REQUIRE(exec(w, "PRAGMA journal_mode=WAL") == SQLITE_OK);
    REQUIRE(exec(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)") == SQLITE_OK);
    sqlite3* r = open_db(path, false);
    const auto before = cartero::queue::wal_write_batching_stats();
    for (int i = 1; i <= 60; ++i) {
        REQUIRE(exec(w, i % 2 ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL") == SQLITE_OK);
        REQUIRE(exec(w, "BEGIN") == SQLITE_OK);
        for (int k = 0; k < 20; ++k)
            REQUIRE(exec(w, "INSERT INTO t(v) VALUES (randomblob(" + std::to_string(100 + 37 * k) + "))") == SQLITE_OK);
        REQUIRE(exec(w, "COMMIT") == SQLITE_OK);
        REQUIRE(scalar(r, "SELECT count(*) FROM t") == i * 20); // the default VFS reads the file
    }
    const auto after = cartero::queue::wal_write_batching_stats();
    const auto asked = after.requested - before.requested, made = after.issued - before.issued;
    INFO("requested " << asked << " issued " << made);
    CHECK(asked > 60 * 4);
    CHECK(made * 4 < asked);
    CHECK(after.guard_flushes == before.guard_flushes);
    sqlite3_close(r);
    sqlite3_close(w);
    CHECK(query_int(path, "PRAGMA integrity_check") == 0); // "ok" reads as 0
}

TEST_CASE("wal batching: a transaction larger than the cache (spills, pages rewritten)", "[wal_batching]") {
    temp_dir dir;
    const auto path = dir.path / "t.db";
    sqlite3* w = open_db(path, true);
    REQUIRE(exec(w, "PRAGMA journal_mode=WAL") == SQLITE_OK);
    REQUIRE(exec(w, "PRAGMA cache_size=4") == SQLITE_OK); // forces spills mid-transaction
    REQUIRE(exec(w, "PRAGMA synchronous=NORMAL") == SQLITE_OK);
    REQUIRE(exec(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)") == SQLITE_OK);
    REQUIRE(exec(w, "BEGIN") == SQLITE_OK);
    for (int k = 0; k < 400; ++k)
        REQUIRE(exec(w, "INSERT INTO t(id, v) VALUES (" + std::to_string(k) + ", printf('%.500c', 'a'))") == SQLITE_OK);
    for (int round = 0; round < 3; ++round) // the same pages again, in the same transaction
        REQUIRE(exec(w, "UPDATE t SET v = printf('%.500c', char(98 + " + std::to_string(round) + "))") == SQLITE_OK);
    REQUIRE(exec(w, "COMMIT") == SQLITE_OK);
    sqlite3* r = open_db(path, false);
    CHECK(scalar(r, "SELECT count(*) FROM t WHERE v = printf('%.500c', 'd')") == 400);
    CHECK(text(r, "PRAGMA integrity_check") == "ok");
    sqlite3_close(r);
    sqlite3_close(w);
}

TEST_CASE("wal batching: a COMMIT that returned survives the process dying at once", "[wal_batching]") {
    temp_dir dir;
    const auto path = dir.path / "t.db";
    {
        sqlite3* w = open_db(path, false);
        REQUIRE(exec(w, "PRAGMA journal_mode=WAL") == SQLITE_OK);
        REQUIRE(exec(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)") == SQLITE_OK);
        sqlite3_close(w);
    }
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) { // synchronous=NORMAL: only the kernel has the commits, then a kill -9 exit
        sqlite3* w = nullptr;
        if (sqlite3_open_v2(path.c_str(), &w, SQLITE_OPEN_READWRITE, cartero::queue::wal_write_batching_vfs()) != SQLITE_OK)
            ::_exit(2);
        sqlite3_exec(w, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
        for (int i = 0; i < 50; ++i)
            if (sqlite3_exec(w, "INSERT INTO t(v) VALUES (randomblob(3000))", nullptr, nullptr, nullptr) != SQLITE_OK)
                ::_exit(3);
        ::_exit(0); // no sqlite3_close: nothing is flushed on the way out
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    sqlite3* r = open_db(path, false);
    CHECK(scalar(r, "SELECT count(*) FROM t") == 50);
    CHECK(text(r, "PRAGMA integrity_check") == "ok");
    sqlite3_close(r);
}
