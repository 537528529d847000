// tests/unit/core/config_db_test.cpp — config.db migrations, triggers, operations and error paths.
#include "core/config_db.hpp"
#include "core/password.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

using namespace cartero::config;
using cartero::test::temp_dir;
using kind = config_error::kind;

namespace {

// Runs SQL on a second, raw connection (as the sqlite3 CLI would); returns SQLite's message or "".
std::string raw_exec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = rc == SQLITE_OK ? "" : (err ? err : "error");
    sqlite3_free(err);
    sqlite3_close(db);
    return msg;
}

std::int64_t count(config_db& db, const char* table) {
    sqlite3_stmt* st = nullptr;
    std::string sql = std::string("SELECT count(*) FROM ") + table;
    sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &st, nullptr);
    sqlite3_step(st);
    auto n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

kind error_kind(auto&& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.which();
    }
    FAIL("no config_error thrown");
    return kind::storage;
}

std::string error_text(auto&& f) {
    try {
        f();
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST_CASE("a fresh config.db reaches the latest schema; reopening is a no-op", "[config_db]") {
    temp_dir t;
    std::string path = t.path("config.db");
    CHECK_THROWS_AS(config_db(path, false), config_error); // not created unless asked
    {
        config_db db(path, true);
        CHECK(db.schema_version() == config_db::latest_schema_version());
        CHECK(config_db::latest_schema_version() >= 1);
        db.add_domain("example.org");
    }
    {
        config_db db(path, false);
        CHECK(db.schema_version() == config_db::latest_schema_version());
        CHECK(db.list_domains().size() == 1);
    }
    // WAL and foreign keys are in force.
    config_db db(path, false);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db.handle(), "PRAGMA journal_mode", -1, &st, nullptr);
    sqlite3_step(st);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
    sqlite3_finalize(st);
}

TEST_CASE("a config.db newer than this program is refused", "[config_db]") {
    temp_dir t;
    std::string path = t.path("config.db");
    { config_db db(path, true); }
    REQUIRE(raw_exec(path, "PRAGMA user_version = 999") == "");
    auto msg = error_text([&] { config_db db(path, false); });
    CHECK(msg.find("newer") != std::string::npos);
}

TEST_CASE("triggers and CHECKs refuse bad rows from writers bypassing the C++", "[config_db]") {
    temp_dir t;
    std::string path = t.path("config.db");
    {
        config_db db(path, true);
        db.add_domain("example.org");
        db.add_mailbox("alice@example.org", "pw", 0);
        db.add_forwarder("info@example.org", {"alice@example.org"});
    }
    auto hash = cartero::password::hash_password("pw");
    // A forwarder may not shadow a mailbox...
    CHECK(raw_exec(path, "INSERT INTO forwarders (domain_id, source) VALUES (1, 'alice@example.org')")
              .find("shadow") != std::string::npos);
    // ...nor a mailbox take a forwarder's address.
    CHECK(raw_exec(path, "INSERT INTO mailboxes (domain_id, local_part, address, password_hash)"
                         " VALUES (1, 'info', 'info@example.org', '" + hash + "')")
              .find("forwarder has this address") != std::string::npos);
    CHECK(raw_exec(path, "UPDATE mailboxes SET address = 'info@example.org', local_part = 'info'")
              .find("forwarder has this address") != std::string::npos);
    // Lower-case names only.
    CHECK(raw_exec(path, "INSERT INTO domains (name) VALUES ('Example.NET')") != "");
    CHECK(raw_exec(path, "INSERT INTO domains (name) VALUES ('bad domain.net')") != "");
    CHECK(raw_exec(path, "INSERT INTO domains (name) VALUES ('example.net.')") != "");
    CHECK(raw_exec(path, "INSERT INTO mailboxes (domain_id, local_part, address, password_hash)"
                         " VALUES (1, 'Bob', 'Bob@example.org', '" + hash + "')") != "");
    // The address must be local_part@domain.
    CHECK(raw_exec(path, "INSERT INTO mailboxes (domain_id, local_part, address, password_hash)"
                         " VALUES (1, 'bob', 'carol@example.org', '" + hash + "')") != "");
    // Negative quota, unhashed password.
    CHECK(raw_exec(path, "UPDATE mailboxes SET quota_bytes = -1") != "");
    CHECK(raw_exec(path, "UPDATE mailboxes SET password_hash = 'plaintext'") != "");
    // Forward to itself; forwarder outside its domain; domain with mailboxes deleted.
    CHECK(raw_exec(path, "INSERT INTO forwarder_destinations VALUES (1, 'info@example.org')")
              .find("own address") != std::string::npos);
    CHECK(raw_exec(path, "INSERT INTO forwarders (domain_id, source) VALUES (1, 'x@other.example')") != "");
    CHECK(raw_exec(path, "DELETE FROM domains") != "");
    // And good rows still go in.
    CHECK(raw_exec(path, "INSERT INTO forwarder_destinations VALUES (1, 'bob@remote.example')") == "");

    config_db db(path, false);
    CHECK(count(db, "mailboxes") == 1);
    CHECK(count(db, "forwarders") == 1);
    CHECK(count(db, "domains") == 1);
}

TEST_CASE("domains: add, list, remove and their errors", "[config_db]") {
    temp_dir t;
    config_db db(t.path("config.db"), true);
    CHECK(db.add_domain("Bücher.Example") == "xn--bcher-kva.example");
    CHECK(db.add_domain("example.org") == "example.org");
    CHECK(error_kind([&] { db.add_domain("EXAMPLE.org"); }) == kind::conflict);
    CHECK(error_kind([&] { db.add_domain("not a domain"); }) == kind::invalid);
    auto list = db.list_domains();
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "example.org");
    CHECK(list[1].name == "xn--bcher-kva.example");

    db.add_mailbox("a@example.org", "pw", 0);
    db.add_mailbox("b@example.org", "pw", 0);
    db.add_forwarder("@example.org", {"a@example.org"});
    auto msg = error_text([&] { db.remove_domain("example.org"); });
    CHECK(msg == "domain example.org still has 2 mailboxes and 1 forwarder; remove them first");
    CHECK(db.list_domains().size() == 2);
    CHECK(error_text([&] { db.remove_domain("nope.example"); }) ==
          "domain nope.example does not exist; add it with: carteroctl domain add nope.example");
    db.remove_domain("bücher.example");
    CHECK(db.list_domains().size() == 1);
}

TEST_CASE("mailboxes: add, passwd, list, remove and their errors", "[config_db]") {
    temp_dir t;
    config_db db(t.path("config.db"), true);
    CHECK(error_text([&] { db.add_mailbox("a@example.org", "pw", 0); }) ==
          "domain example.org does not exist; add it with: carteroctl domain add example.org");
    db.add_domain("example.org");
    db.add_domain("example.net");
    CHECK(db.add_mailbox("Alice@Example.org", "pw1", 500ull << 20) == "alice@example.org");
    db.add_mailbox("bob@example.net", "pw2", 0);
    CHECK(error_kind([&] { db.add_mailbox("ALICE@example.org", "x", 0); }) == kind::conflict);
    CHECK(error_kind([&] { db.add_mailbox("a%b@example.org", "x", 0); }) == kind::invalid);
    CHECK(error_kind([&] { db.add_mailbox("c@example.org", "", 0); }) == kind::invalid);
    CHECK(error_kind([&] { db.add_mailbox("c@example.org", "x", 1ull << 63); }) == kind::invalid);

    auto all = db.list_mailboxes();
    REQUIRE(all.size() == 2);
    CHECK(all[0].address == "bob@example.net"); // sorted by domain
    CHECK(all[1].address == "alice@example.org");
    CHECK(all[1].quota_bytes == 500ull << 20);
    CHECK(all[1].enabled);
    CHECK(db.list_mailboxes("example.org").size() == 1);
    CHECK(error_kind([&] { db.list_mailboxes("nope.example"); }) == kind::not_found);

    auto before = db.load_snapshot().mailboxes.at("alice@example.org").password_hash;
    CHECK(cartero::password::verify_password("pw1", before));
    db.set_password("alice@example.org", "new");
    auto after = db.load_snapshot().mailboxes.at("alice@example.org").password_hash;
    CHECK(cartero::password::verify_password("new", after));
    CHECK(error_kind([&] { db.set_password("zed@example.org", "x"); }) == kind::not_found);
    db.set_quota("alice@example.org", 0);
    db.set_enabled("alice@example.org", false);
    CHECK(db.list_mailboxes("example.org")[0].quota_bytes == 0);
    CHECK_FALSE(db.list_mailboxes("example.org")[0].enabled);

    db.remove_mailbox("ALICE@example.org");
    CHECK(error_kind([&] { db.remove_mailbox("alice@example.org"); }) == kind::not_found);
    CHECK(db.list_mailboxes().size() == 1);
}

TEST_CASE("forwarders: add appends, catch-all, shadowing and self-forwarding refused", "[config_db]") {
    temp_dir t;
    config_db db(t.path("config.db"), true);
    db.add_domain("example.org");
    db.add_mailbox("alice@example.org", "pw", 0);

    auto f = db.add_forwarder("Info@example.org", {"alice@example.org", "Ext@Remote.example"});
    CHECK(f.source == "info@example.org");
    CHECK(f.destinations == std::vector<std::string>{"alice@example.org", "ext@remote.example"});
    f = db.add_forwarder("info@example.org", {"bob@example.org", "alice@example.org"});
    CHECK(f.destinations ==
          std::vector<std::string>{"alice@example.org", "ext@remote.example", "bob@example.org"});
    db.add_forwarder("@example.org", {"alice@example.org"});

    CHECK(error_kind([&] { db.add_forwarder("alice@example.org", {"x@remote.example"}); }) ==
          kind::conflict);
    CHECK(error_kind([&] { db.add_mailbox("info@example.org", "pw", 0); }) == kind::conflict);
    CHECK(error_kind([&] { db.add_forwarder("x@example.org", {"X@example.org"}); }) == kind::invalid);
    CHECK(error_kind([&] { db.add_forwarder("x@example.org", {}); }) == kind::invalid);
    CHECK(error_kind([&] { db.add_forwarder("x@nope.example", {"a@b.example"}); }) == kind::not_found);
    CHECK(error_kind([&] { db.add_forwarder("@nope.example", {"a@b.example"}); }) == kind::not_found);
    CHECK(error_kind([&] { db.add_forwarder("x@example.org", {"@remote.example"}); }) == kind::invalid);
    // One bad destination in a list: nothing at all is written.
    CHECK(error_kind([&] { db.add_forwarder("y@example.org", {"ok@remote.example", "bad dest"}); }) ==
          kind::invalid);
    CHECK(error_kind([&] { db.add_forwarder("info@example.org", {"ok@remote.example", "info@example.org"}); }) ==
          kind::invalid);

    auto list = db.list_forwarders();
    REQUIRE(list.size() == 2);
    CHECK(list[0].source == "@example.org");
    CHECK(list[1].source == "info@example.org");
    CHECK(list[1].destinations.size() == 3);
    CHECK(db.list_forwarders("example.org").size() == 2);

    db.remove_forwarder("INFO@example.org");
    CHECK(error_kind([&] { db.remove_forwarder("info@example.org"); }) == kind::not_found);
    CHECK(count(db, "forwarder_destinations") == 1); // cascade removed info's three
    db.remove_forwarder("@example.org");
    CHECK(count(db, "forwarder_destinations") == 0);
}

TEST_CASE("settings: known keys only, values validated", "[config_db]") {
    temp_dir t;
    config_db db(t.path("config.db"), true);
    CHECK_FALSE(db.get_setting("postmaster").has_value());
    db.set_setting("postmaster", "Admin@Example.org");
    CHECK(db.get_setting("postmaster") == "admin@example.org");
    db.set_setting("postmaster", "");
    CHECK(db.get_setting("postmaster") == "");
    db.set_setting("hostname", "Mail.Example.org");
    CHECK(db.get_setting("hostname") == "mail.example.org");
    CHECK(error_kind([&] { db.set_setting("postmaster", "not an address"); }) == kind::invalid);
    CHECK(error_kind([&] { db.set_setting("hostname", ""); }) == kind::invalid);
    CHECK(error_kind([&] { db.set_setting("nonsense", "x"); }) == kind::invalid);
    CHECK(error_kind([&] { db.get_setting("nonsense"); }) == kind::invalid);
}

TEST_CASE("snapshot holds everything; data_version notices other writers", "[config_db]") {
    temp_dir t;
    std::string path = t.path("config.db");
    config_db writer(path, true);
    config_db reader(path, false);
    writer.add_domain("example.org");
    writer.add_domain("example.net");
    // Bulk insert through SQL in one statement: hashing 2000 passwords would only slow the test.
    REQUIRE(raw_exec(path, "INSERT INTO mailboxes (domain_id, local_part, address, password_hash,"
                           " quota_bytes) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1"
                           " FROM n WHERE i < 1999) SELECT 1, 'u' || i, 'u' || i || '@example.org',"
                           " '{CRYPT}$y$x', 1024 FROM n") == "");
    writer.add_forwarder("@example.net", {"u1@example.org"});
    writer.add_forwarder("info@example.org", {"u2@example.org", "ext@remote.example"});
    writer.set_setting("postmaster", "u0@example.org");

    auto v0 = reader.data_version();
    auto start = std::chrono::steady_clock::now();
    auto snap = reader.load_snapshot();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start).count();
    CHECK(ms < 500);
    CHECK(snap.domains == std::set<std::string>{"example.net", "example.org"});
    REQUIRE(snap.mailboxes.size() == 2000);
    const auto& m = snap.mailboxes.at("u7@example.org");
    CHECK(m.local == "u7");
    CHECK(m.domain == "example.org");
    CHECK(m.quota_bytes == 1024);
    CHECK(m.enabled);
    CHECK(snap.forwarders.at("@example.net") == std::vector<std::string>{"u1@example.org"});
    CHECK(snap.forwarders.at("info@example.org").size() == 2);
    CHECK(snap.postmaster == "u0@example.org");
    CHECK(snap.data_version == v0);

    CHECK(reader.data_version() == v0); // nothing changed
    writer.remove_forwarder("@example.net");
    CHECK(reader.data_version() != v0); // another connection committed
}
