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

namespace {
// How many ephemeral tables SQLite's program for `sql` opens (EXPLAIN lists its opcodes).
int ephemeral_tables(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN " + sql).c_str(), -1, &st, nullptr) == SQLITE_OK);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        auto op = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
        if (op && std::string(op) == "OpenEphemeral") ++n;
    }
    sqlite3_finalize(st);
    return n;
}
} // namespace

TEST_CASE("v3 → v4 keeps every row and the CHECKs need no ephemeral table", "[queue_schema]") {
    mem_db d;
    REQUIRE(d.exec("PRAGMA foreign_keys=ON") == SQLITE_OK);
    cartero::queue_db::migrate_to(d.db, 3);
    REQUIRE(d.scalar("PRAGMA user_version") == 3);
    REQUIRE(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body, held, envid, dsn_ret) "
                   "VALUES ('Q1', 1, 'a@b', 3, x'414243', 1, 'E1', 'HDRS')") == SQLITE_OK);
    REQUIRE(d.exec("INSERT INTO recipients(id, message_id, rcpt_to, deliver_to, kind, state, "
                   "updated_at, notify, dsn_sent, delay_dsn_sent) VALUES (7, 'Q1', 'x@y', 'x@y', "
                   "'remote', 'deferred', 5, 'FAILURE', 1, 1)") == SQLITE_OK);
    REQUIRE(d.exec("INSERT INTO delivery_log(id, at, message_id, recipient, result, reply, tls) "
                   "VALUES (3, 9, 'Q1', 'x@y', 'deferred', '451 later', 'TLSv1.3')") == SQLITE_OK);
    // Under v3 the IN-list CHECKs cost a temporary table per statement: what step 4 removes.
    CHECK(ephemeral_tables(d.db, "UPDATE recipients SET state = 'failed' WHERE id = 7") > 0);

    cartero::queue_db::migrate_to(d.db, 4);
    CHECK(d.scalar("PRAGMA user_version") == 4);
    CHECK(d.scalar("PRAGMA foreign_keys") == 1); // restored after the rebuild
    CHECK(d.scalar("SELECT count(*) FROM messages WHERE id='Q1' AND held=1 AND envid='E1' AND "
                   "dsn_ret='HDRS' AND body=x'414243'") == 1);
    CHECK(d.scalar("SELECT count(*) FROM recipients WHERE id=7 AND state='deferred' AND "
                   "notify='FAILURE' AND dsn_sent=1 AND delay_dsn_sent=1 AND updated_at=5") == 1);
    CHECK(d.scalar("SELECT count(*) FROM delivery_log WHERE id=3 AND result='deferred' AND "
                   "reply='451 later' AND tls='TLSv1.3'") == 1);
    for (const char* ix : {"messages_msgid", "recipients_message", "recipients_due",
                           "delivery_log_message", "delivery_log_recipient", "delivery_log_at",
                           "delivery_log_msgid"})
        CHECK(d.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type='index' AND name='") +
                       ix + "'") == 1);
    CHECK(d.scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v4'") == 0);

    CHECK(ephemeral_tables(d.db, "UPDATE recipients SET state = 'failed' WHERE id = 7") == 0);
    CHECK(ephemeral_tables(d.db, "INSERT INTO delivery_log(at, message_id, recipient, result) "
                                 "VALUES (1, 'Q1', 'x@y', 'delivered')") == 0);
    CHECK(ephemeral_tables(d.db, "INSERT INTO messages(id, received_at, mail_from, size, body) "
                                 "VALUES ('Q2', 1, '', 1, x'41')") == 0);
    // The same values are still refused, the foreign key and its cascade still hold.
    CHECK(d.exec("UPDATE recipients SET state='bogus'") != SQLITE_OK);
    CHECK(d.exec("INSERT INTO delivery_log(at, message_id, recipient, result) "
                 "VALUES (1, 'Q1', 'x@y', 'lost')") != SQLITE_OK);
    CHECK(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body, dsn_ret) "
                 "VALUES ('Q3', 1, '', 1, x'41', 'ALL')") != SQLITE_OK);
    CHECK(d.exec("INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, updated_at) "
                 "VALUES ('NOPE', 'x@y', 'x@y', 'local', 1)") != SQLITE_OK);
    REQUIRE(d.exec("DELETE FROM messages WHERE id='Q1'") == SQLITE_OK);
    CHECK(d.scalar("SELECT count(*) FROM recipients") == 0);
    // Row ids are not reused once their rows are gone (AUTOINCREMENT, seeded from the copy).
    REQUIRE(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body) "
                   "VALUES ('Q4', 1, '', 1, x'41')") == SQLITE_OK);
    REQUIRE(d.exec("INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, updated_at) "
                   "VALUES ('Q4', 'x@y', 'x@y', 'local', 1)") == SQLITE_OK);
    CHECK(d.scalar("SELECT max(id) FROM recipients") == 8);
}

TEST_CASE("v3 → v4 drops a recipient whose message is gone", "[queue_schema]") {
    mem_db d;
    cartero::queue_db::migrate_to(d.db, 3);
    // Written with foreign keys off (as a crashed tool might have left it): nothing to deliver.
    REQUIRE(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body) "
                   "VALUES ('Q1', 1, 'a@b', 1, x'41')") == SQLITE_OK);
    REQUIRE(d.exec("INSERT INTO recipients(message_id, rcpt_to, deliver_to, kind, updated_at) "
                   "VALUES ('GONE', 'x@y', 'x@y', 'local', 1), ('Q1', 'z@y', 'z@y', 'local', 1)") == SQLITE_OK);
    REQUIRE_NOTHROW(cartero::queue_db::migrate_to(d.db, 4));
    CHECK(d.scalar("PRAGMA user_version") == 4);
    CHECK(d.scalar("SELECT count(*) FROM recipients WHERE message_id='GONE'") == 0);
    CHECK(d.scalar("SELECT count(*) FROM recipients WHERE message_id='Q1'") == 1);
}

TEST_CASE("v4 → v5 adds messages.spooled, 0 for every existing row", "[queue_schema]") {
    mem_db d;
    cartero::queue_db::migrate_to(d.db, 4);
    REQUIRE(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body) "
                   "VALUES ('Q1', 1, 'a@b', 3, x'414243')") == SQLITE_OK);
    cartero::queue_db::migrate(d.db);
    CHECK(d.scalar("PRAGMA user_version") == 5);
    CHECK(d.scalar("SELECT count(*) FROM messages WHERE id='Q1' AND spooled=0 AND body=x'414243'") == 1);
    CHECK(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body, spooled) "
                 "VALUES ('Q2', 1, '', 100000, x'', 1)") == SQLITE_OK);
    CHECK(d.exec("INSERT INTO messages(id, received_at, mail_from, size, body, spooled) "
                 "VALUES ('Q3', 1, '', 1, x'41', 2)") != SQLITE_OK);
    CHECK(ephemeral_tables(d.db, "INSERT INTO messages(id, received_at, mail_from, size, body, spooled) "
                                 "VALUES ('Q4', 1, '', 1, x'41', 0)") == 0);
}

TEST_CASE("migrate_to refuses a version this build does not know", "[queue_schema]") {
    mem_db d;
    CHECK_THROWS_AS(cartero::queue_db::migrate_to(d.db, cartero::queue_db::schema_version + 1),
                    std::runtime_error);
    CHECK(d.scalar("PRAGMA user_version") == 0);
}
