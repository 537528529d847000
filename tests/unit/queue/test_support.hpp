// tests/unit/queue/test_support.hpp — temporary directories, raw queue.db queries, enqueue-and-wait.
#pragma once

#include "daemon/queue/queue_store.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>

namespace cartero::test {

// A fresh directory under $TMPDIR, removed with everything in it at scope exit.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        auto base = std::filesystem::temp_directory_path() / "cartero-test-XXXXXX";
        std::string s = base.string();
        if (!::mkdtemp(s.data())) throw std::runtime_error("mkdtemp failed");
        path = s;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

// Reads one integer from queue.db through a separate connection (what a restarted process sees).
inline std::int64_t query_int(const std::filesystem::path& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(db);
        throw std::runtime_error("cannot open " + db_path.string());
    }
    sqlite3_stmt* st = nullptr;
    std::int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else {
        std::string err = sqlite3_errmsg(db);
        sqlite3_finalize(st);
        sqlite3_close(db);
        throw std::runtime_error("query failed: " + sql + ": " + err);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

// Enqueues and waits for the result, as an SMTP session waits before its 250.
inline std::optional<std::string> enqueue_wait(queue::store& s, queue::message m) {
    std::promise<std::optional<std::string>> p;
    auto f = p.get_future();
    s.enqueue(std::move(m), [&p](std::optional<std::string> e) { p.set_value(std::move(e)); });
    return f.get();
}

} // namespace cartero::test
