// core/dkim_store.cpp — dkim_keys rows and key files kept in step (generate, list, (de)activate,
// remove).
#include "core/dkim_store.hpp"

#include "core/address_norm.hpp"

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace cartero::config {
namespace {

using kind = config_error::kind;

[[noreturn]] void fail(kind k, const std::string& what) {
    throw config_error(k, what);
}

[[noreturn]] void fail_sqlite(sqlite3* db, std::string_view doing) {
    if (sqlite3_errcode(db) == SQLITE_CONSTRAINT)
        fail(kind::conflict, std::string("config.db refused the change: ") + sqlite3_errmsg(db));
    fail(kind::storage, "config.db: " + std::string(doing) + ": " + sqlite3_errmsg(db));
}

// A prepared statement (config_db.cpp keeps its own helpers private; this is the same shape).
class stmt {
  public:
    stmt(sqlite3* db, std::string_view sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st_, nullptr) !=
            SQLITE_OK)
            fail_sqlite(db, "prepare");
    }
    ~stmt() { sqlite3_finalize(st_); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;

    stmt& bind(int i, std::string_view v) {
        if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) !=
            SQLITE_OK)
            fail_sqlite(db_, "bind");
        return *this;
    }
    stmt& bind(int i, std::int64_t v) {
        if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail_sqlite(db_, "bind");
        return *this;
    }
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail_sqlite(db_, "write");
    }
    std::int64_t i64(int col) { return sqlite3_column_int64(st_, col); }
    std::string text(int col) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                 : std::string();
    }

  private:
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail_sqlite(db, sql);
}

// Rolls back unless commit() was reached; IMMEDIATE so checks made inside still hold at commit.
class transaction {
  public:
    transaction(sqlite3* db, bool write) : db_(db) {
        exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN");
    }
    ~transaction() {
        if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit() {
        exec(db_, "COMMIT");
        db_ = nullptr;
    }

  private:
    sqlite3* db_;
};

std::string norm_domain(std::string_view name) {
    auto d = names::normalize_domain(name);
    if (!d) fail(kind::invalid, "domain '" + std::string(name) + "': " + d.error);
    return d.value;
}

// RFC 6376 §3.1: the selector is a DNS label (here one label; sub-labels are not offered).
std::string norm_selector(std::string_view s) {
    std::string out = names::ascii_lower(s);
    bool ok = !out.empty() && out.size() <= 63 && out.front() != '-' && out.back() != '-';
    for (char c : out)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (!ok)
        fail(kind::invalid, "selector '" + std::string(s) +
                                "' is not valid: use 1-63 letters, digits or '-', not starting "
                                "or ending with '-' (e.g. cartero202611)");
    return out;
}

std::int64_t domain_id(sqlite3* db, const std::string& name) {
    stmt s(db, "SELECT id FROM domains WHERE name = ?1");
    s.bind(1, name);
    if (!s.step())
        fail(kind::not_found,
             "domain " + name + " does not exist; add it with: carteroctl domain add " + name);
    return s.i64(0);
}

// The directory holding config.db, i.e. the state dir ("" for an in-memory database). SQLite
// reports the main database's file name as an absolute path.
std::string db_dir(sqlite3* db) {
    const char* f = sqlite3_db_filename(db, "main");
    if (!f || !*f) return {};
    return std::filesystem::path(f).parent_path().string();
}

// Rows store key paths relative to the state dir so that a state dir can be moved (or copied
// into an image) as a whole; rows written before that hold absolute paths, used as they are.
std::string resolve_key_path(const std::string& base, const std::string& stored) {
    if (base.empty() || stored.empty() || stored.front() == '/') return stored;
    return base + "/" + stored;
}

std::vector<dkim_key_row> select_keys(sqlite3* db, const std::string& domain,
                                      const std::string& selector) {
    stmt s(db, "SELECT d.name, k.selector, k.algorithm, k.private_key_path, k.public_key, "
               "k.active, k.created_at FROM dkim_keys k JOIN domains d ON d.id = k.domain_id "
               "WHERE (?1 = '' OR d.name = ?1) AND (?2 = '' OR k.selector = ?2) "
               "ORDER BY d.name, k.selector");
    s.bind(1, domain).bind(2, selector);
    const std::string base = db_dir(db);
    std::vector<dkim_key_row> out;
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.text(2), resolve_key_path(base, s.text(3)),
                       s.text(4), s.i64(5) != 0, s.i64(6)});
    return out;
}

[[noreturn]] void no_such_key(const std::string& domain, const std::string& selector) {
    fail(kind::not_found, "no DKIM key " + selector + " for " + domain +
                              " (see: carteroctl dkim list " + domain + ")");
}

} // namespace

dkim_key_row generate_dkim_key(config_db& db, const std::string& state_dir, std::string_view domain,
                               std::string_view selector, dkim::key_algorithm alg) {
    std::string d = norm_domain(domain);
    std::string s = norm_selector(selector);
    sqlite3* h = db.handle();
    transaction tx(h, true);
    std::int64_t id = domain_id(h, d);
    if (!select_keys(h, d, s).empty())
        fail(kind::conflict, "DKIM key " + s + " for " + d +
                                 " already exists; choose another --selector or remove it first");

    dkim::generated_key key;
    try {
        key = dkim::generate_key(alg);
    } catch (const std::exception& e) {
        fail(kind::storage, e.what());
    }
    std::string rel = "dkim/" + d + "/" + s + ".key";
    std::string path = state_dir + "/" + rel;
    // Stored relative when state_dir is where config.db lives (always, for carteroctl and the
    // panel); otherwise the relative form would not resolve, so the absolute one is kept.
    std::error_code ec;
    const std::string base = db_dir(h);
    const std::string stored =
        !base.empty() && std::filesystem::equivalent(state_dir, base, ec) ? rel : path;
    try {
        dkim::write_private_key(path, key.private_key_pem);
    } catch (const std::exception& e) {
        fail(kind::storage, e.what());
    }
    try {
        stmt ins(h, "INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key_path, "
                    "public_key, active) VALUES (?1, ?2, ?3, ?4, ?5, 1)");
        ins.bind(1, id)
            .bind(2, s)
            .bind(3, dkim::to_string(alg))
            .bind(4, stored)
            .bind(5, key.public_key_b64);
        ins.step();
        auto rows = select_keys(h, d, s);
        tx.commit();
        return rows.at(0);
    } catch (...) {
        ::unlink(path.c_str()); // the row is not there, so neither may the file be
        throw;
    }
}

std::vector<dkim_key_row> list_dkim_keys(config_db& db, std::string_view domain) {
    sqlite3* h = db.handle();
    transaction tx(h, false);
    std::string d;
    if (!domain.empty()) {
        d = norm_domain(domain);
        domain_id(h, d);
    }
    return select_keys(h, d, {});
}

void set_dkim_key_active(config_db& db, std::string_view domain, std::string_view selector,
                         bool active) {
    std::string d = norm_domain(domain);
    std::string s = names::ascii_lower(selector);
    sqlite3* h = db.handle();
    transaction tx(h, true);
    stmt up(h, "UPDATE dkim_keys SET active = ?1 WHERE selector = ?2 AND domain_id = "
               "(SELECT id FROM domains WHERE name = ?3)");
    up.bind(1, std::int64_t{active ? 1 : 0}).bind(2, s).bind(3, d);
    up.step();
    if (sqlite3_changes(h) == 0) no_such_key(d, s);
    tx.commit();
}

void remove_dkim_key(config_db& db, std::string_view domain, std::string_view selector) {
    std::string d = norm_domain(domain);
    std::string s = names::ascii_lower(selector);
    sqlite3* h = db.handle();
    transaction tx(h, true);
    auto rows = select_keys(h, d, s);
    if (rows.empty()) no_such_key(d, s);
    stmt del(h, "DELETE FROM dkim_keys WHERE selector = ?1 AND domain_id = "
                "(SELECT id FROM domains WHERE name = ?2)");
    del.bind(1, s).bind(2, d);
    del.step();
    tx.commit();
    // After the commit: a crash in between leaves an unreferenced file, never a row whose key
    // file is missing (carterod would fail to sign with it).
    const std::string& path = rows.front().private_key_path;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        fail(kind::storage, "the DKIM key " + s + " for " + d + " was removed, but its file " +
                                path + " could not be deleted: " + std::strerror(errno));
}

} // namespace cartero::config
