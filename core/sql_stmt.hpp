// core/sql_stmt.hpp — a prepared statement and a transaction on a config.db connection, for the
// stores next to config_db (autoreply_store, greylist_settings, filter_store, sending_store);
// failures are config_errors.
#pragma once

#include "core/config_db.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace cartero::config::sql {

// A constraint failure is the caller's input (kind::conflict, with SQLite's text, which names
// the CHECK or UNIQUE that refused it); anything else is kind::storage.
[[noreturn]] inline void fail_sqlite(sqlite3* db) {
    if (sqlite3_errcode(db) == SQLITE_CONSTRAINT)
        throw config_error(config_error::kind::conflict,
                           std::string("config.db refused the change: ") + sqlite3_errmsg(db));
    throw config_error(config_error::kind::storage, std::string("config.db: ") + sqlite3_errmsg(db));
}

class stmt {
public:
    stmt(sqlite3* db, std::string_view sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st_, nullptr) !=
            SQLITE_OK)
            fail_sqlite(db);
    }
    ~stmt() { sqlite3_finalize(st_); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;

    stmt& bind(int i, std::string_view v) {
        if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) !=
            SQLITE_OK)
            fail_sqlite(db_);
        return *this;
    }
    stmt& bind(int i, std::int64_t v) {
        if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail_sqlite(db_);
        return *this;
    }
    stmt& bind(int i, double v) {
        if (sqlite3_bind_double(st_, i, v) != SQLITE_OK) fail_sqlite(db_);
        return *this;
    }
    stmt& bind_null(int i) {
        if (sqlite3_bind_null(st_, i) != SQLITE_OK) fail_sqlite(db_);
        return *this;
    }
    // NULL when empty; a bool is stored as 0/1.
    template <class T> stmt& bind(int i, const std::optional<T>& v) {
        if (!v) return bind_null(i);
        if constexpr (std::is_same_v<T, bool>) return bind(i, std::int64_t(*v ? 1 : 0));
        else return bind(i, *v);
    }
    bool step() { // true while a row is available
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail_sqlite(db_);
    }
    void run() {
        while (step()) {
        }
    }
    std::int64_t i64(int col) { return sqlite3_column_int64(st_, col); }
    double dbl(int col) { return sqlite3_column_double(st_, col); }
    bool is_null(int col) { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
    std::string text(int col) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : "";
    }
    std::optional<double> opt_dbl(int col) {
        return is_null(col) ? std::nullopt : std::optional<double>(dbl(col));
    }
    std::optional<std::string> opt_text(int col) {
        return is_null(col) ? std::nullopt : std::optional<std::string>(text(col));
    }

private:
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

// BEGIN IMMEDIATE (write) or BEGIN (read); rolled back unless commit() ran: nothing half-saved.
class transaction {
public:
    transaction(sqlite3* db, bool write) : db_(db) {
        if (sqlite3_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr, nullptr) !=
            SQLITE_OK)
            fail_sqlite(db);
    }
    ~transaction() {
        if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit() {
        if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) fail_sqlite(db_);
        db_ = nullptr;
    }

private:
    sqlite3* db_;
};

} // namespace cartero::config::sql
