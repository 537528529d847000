// tests/unit/queue/queue_schema_test.cpp — queue.db migrations: versioning, idempotence, refusal.
#include "core/queue_schema.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <stdexcept>
#include <string>

namespace {

struct mem_db {
    sqlite3* db = nullptr;
    mem_db() { sqlite3_open(":memory:", &db); }
    ~mem_db() { sqlite3_close(db); }
    int exec(const std::string& sql) { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
    long long scalar(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        long long v = -1;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
    }
};

} // namespace

TEST_CASE("migrate creates the current schema and records its version", "[queue_schema]") {
    mem_db d;
    cartero::queue_db::migrate(d.db);
    CHECK(d.scalar("PRAGMA user_version") == cartero::queue_db::schema_version);
    for (const char* t : {"messages", "recipients", "delivery_log"})
        CHECK(d.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='") +
                       t + "'") == 1);
    // A second run is a no-op, not an error ("table exists").
    REQUIRE_NOTHROW(cartero::queue_db::migrate(d.db));
    CHECK(d.scalar("PRAGMA user_version") == cartero::queue_db::schema_version);
}

TEST_CASE("recipients cascade with their message and states are checked", "[queue_schema]") {
    mem_db d;
    cartero::queue_db::migrate(d.db);
    REQUIRE(d.exec("PRAGMA foreign_keys=ON") == SQLITE_OK);
    REQUIRE(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body) "
                   "VALUES ('Q1', 1, 'a@b', 3, x'414243')") == SQLITE_OK);
    REQUIRE(d.exec("INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, updated_at) "
                   "VALUES ('Q1', 'x@y', 'x@y', 'local', 1)") == SQLITE_OK);
    CHECK(d.scalar("SELECT count(*) FROM recipients WHERE state='queued' AND attempts=0") == 1);
    CHECK(d.exec("UPDATE recipients SET state='bogus'") != SQLITE_OK);
    CHECK(d.exec("INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, updated_at) "
                 "VALUES ('Q1', 'x@y', 'x@y', 'carrier-pigeon', 1)") != SQLITE_OK);
    CHECK(d.exec("INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, updated_at) "
                 "VALUES ('NOPE', 'x@y', 'x@y', 'local', 1)") != SQLITE_OK);
    REQUIRE(d.exec("DELETE FROM messages WHERE id='Q1'") == SQLITE_OK);
    CHECK(d.scalar("SELECT count(*) FROM recipients") == 0);
}

TEST_CASE("migrate refuses a database from a newer build", "[queue_schema]") {
    mem_db d;
    REQUIRE(d.exec("PRAGMA user_version = 99") == SQLITE_OK);
    try {
        cartero::queue_db::migrate(d.db);
        FAIL("migrate accepted a newer schema");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("newer than this build") != std::string::npos);
    }
    CHECK(d.scalar("PRAGMA user_version") == 99);
}

TEST_CASE("a failing step leaves the previous version and no half-made tables", "[queue_schema]") {
    mem_db d;
    // A pre-existing table with the same name makes step 1 fail midway.
    REQUIRE(d.exec("CREATE TABLE delivery_log(x)") == SQLITE_OK);
    CHECK_THROWS_AS(cartero::queue_db::migrate(d.db), std::runtime_error);
    CHECK(d.scalar("PRAGMA user_version") == 0);
    CHECK(d.scalar("SELECT count(*) FROM sqlite_master WHERE name='messages'") == 0);
}
