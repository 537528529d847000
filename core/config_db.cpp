// core/config_db.cpp — config.db over SQLite: open + migrate, validated tenant operations, snapshot.
#include "core/config_db.hpp"

#include "core/address_norm.hpp"
#include "core/config_schema.hpp"
#include "core/filter_store.hpp"
#include "core/password.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace cartero::config {
namespace {

using kind = config_error::kind;

[[noreturn]] void fail(kind k, const std::string& what) { throw config_error(k, what); }

[[noreturn]] void fail_sqlite(sqlite3* db, std::string_view doing) {
    std::string msg = "config.db: " + std::string(doing) + ": " +
                      (db ? sqlite3_errmsg(db) : "out of memory");
    if (db && sqlite3_errcode(db) == SQLITE_CONSTRAINT)
        // Trigger and CHECK messages are already written for people; prefer them alone.
        fail(kind::conflict, std::string("config.db refused the change: ") + sqlite3_errmsg(db));
    fail(kind::storage, msg);
}

// A prepared statement; bind with 1-based indexes, step until done.
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
        check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    stmt& bind(int i, std::int64_t v) {
        check(sqlite3_bind_int64(st_, i, v));
        return *this;
    }
    // True while a row is available.
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail_sqlite(db_, "write");
    }
    void run() {
        while (step()) {
        }
    }
    std::int64_t i64(int col) { return sqlite3_column_int64(st_, col); }
    std::string text(int col) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                 : std::string();
    }
    bool is_null(int col) { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

private:
    void check(int rc) {
        if (rc != SQLITE_OK) fail_sqlite(db_, "bind");
    }
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        if (sqlite3_errcode(db) == SQLITE_CONSTRAINT)
            fail(kind::conflict, "config.db refused the change: " + msg);
        fail(kind::storage, "config.db: " + msg);
    }
}

// One transaction; rolls back unless commit() was reached. IMMEDIATE for writers so that the
// checks made inside it still hold at commit (no other writer can slip in between).
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
    if (!d) fail(kind::invalid, d.error);
    return d.value;
}

std::string norm_address(std::string_view a) {
    auto r = names::normalize_address(a);
    if (!r) fail(kind::invalid, r.error);
    return r.value;
}

std::int64_t quota_value(std::uint64_t q) {
    if (q > static_cast<std::uint64_t>(INT64_MAX)) fail(kind::invalid, "the quota is too large");
    return static_cast<std::int64_t>(q);
}

// The id of a domain, or not_found with the command that would add it.
std::int64_t domain_id(sqlite3* db, const std::string& name) {
    stmt s(db, "SELECT id FROM domains WHERE name = ?1");
    s.bind(1, name);
    if (!s.step())
        fail(kind::not_found, "domain " + name + " does not exist; add it with: carteroctl domain add " +
                                  name);
    return s.i64(0);
}

std::string domain_of(const std::string& address) { return address.substr(address.rfind('@') + 1); }

std::string hash_or_fail(std::string_view password) {
    if (password.empty()) fail(kind::invalid, "the password is empty");
    try {
        return password::hash_password(password);
    } catch (const std::invalid_argument& e) {
        fail(kind::invalid, e.what());
    } catch (const std::exception& e) {
        fail(kind::storage, e.what());
    }
}

// Normalised forwarder source: an address, or "@domain" for the domain's catch-all.
std::string norm_source(std::string_view source) {
    if (!source.empty() && source.front() == '@') {
        auto d = names::normalize_domain(source.substr(1));
        if (!d) fail(kind::invalid, "catch-all " + quoted(source) + ": " + d.error);
        return "@" + d.value;
    }
    return norm_address(source);
}

bool mailbox_exists(sqlite3* db, const std::string& address) {
    stmt s(db, "SELECT 1 FROM mailboxes WHERE address = ?1");
    s.bind(1, address);
    return s.step();
}

const std::vector<setting_info> settings_table = {
    {"hostname", "this server's host name (EHLO, Received, TLS certificate); a domain name"},
    {"postmaster",
     "where mail to postmaster@ and double bounces go; an address, or empty to keep it in the "
     "holding mailbox"},
    {"dmarc_policy", "DMARC policy published for the domains (RFC 7489 §6.3): none, quarantine or "
                     "reject; unset = none"},
    {"dmarc_rua", "address for DMARC aggregate reports (rua=); unset = the postmaster setting"},
    {"tlsrpt_rua", "address for TLS-RPT reports (RFC 8460); unset = the dmarc_rua address"},
    {"mta_sts_mode", "MTA-STS policy mode (RFC 8461): testing, enforce or none; unset = testing "
                     "(enforce only once the MX has a CA-issued certificate)"},
};

std::string validate_setting(std::string_view key, std::string_view value) {
    if (key == "hostname") return norm_domain(value);
    if (key == "postmaster") return value.empty() ? std::string() : norm_address(value);
    if (key == "dmarc_rua" || key == "tlsrpt_rua")
        return value.empty() ? std::string() : norm_address(value);
    if (key == "dmarc_policy") {
        if (value == "none" || value == "quarantine" || value == "reject") return std::string(value);
        fail(kind::invalid, "dmarc_policy " + quoted(value) + " is not none, quarantine or reject");
    }
    if (key == "mta_sts_mode") {
        if (value == "testing" || value == "enforce" || value == "none") return std::string(value);
        fail(kind::invalid, "mta_sts_mode " + quoted(value) + " is not testing, enforce or none");
    }
    std::string known;
    for (const auto& s : settings_table) known += (known.empty() ? "" : ", ") + std::string(s.key);
    fail(kind::invalid, "unknown setting " + quoted(key) + "; known settings: " + known);
}

} // namespace

config_db::config_db(const std::string& path, bool create_if_missing) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create_if_missing ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        fail(rc == SQLITE_CANTOPEN ? kind::not_found : kind::storage,
             "cannot open " + path + ": " + msg);
    }
    try {
        sqlite3_extended_result_codes(db_, 0);
        sqlite3_busy_timeout(db_, 5000);
        exec(db_, "PRAGMA foreign_keys = ON");
        {
            stmt s(db_, "PRAGMA journal_mode = WAL");
            if (!s.step() || s.text(0) != "wal")
                fail(kind::storage, "cannot switch " + path + " to WAL journal mode");
        }
        migrate();
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

config_db::~config_db() { sqlite3_close(db_); }

config_db::config_db(config_db&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

config_db& config_db::operator=(config_db&& other) noexcept {
    if (this != &other) {
        sqlite3_close(db_);
        db_ = std::exchange(other.db_, nullptr);
    }
    return *this;
}

int config_db::latest_schema_version() { return static_cast<int>(schema_migrations().size()); }

int config_db::schema_version() {
    stmt s(db_, "PRAGMA user_version");
    s.step();
    return static_cast<int>(s.i64(0));
}

void config_db::migrate() {
    const auto& steps = schema_migrations();
    const int latest = static_cast<int>(steps.size());
    if (schema_version() == latest) return; // the common case takes no write lock
    while (true) {
        transaction tx(db_, true);
        // Re-read inside the write lock: another process may have migrated meanwhile.
        int v = schema_version();
        if (v > latest)
            fail(kind::storage, "config.db has schema version " + std::to_string(v) +
                                    ", newer than this program knows (" + std::to_string(latest) +
                                    "); upgrade Cartero");
        if (v == latest) return;
        std::string sql(steps[static_cast<std::size_t>(v)]);
        sql += "\nPRAGMA user_version = " + std::to_string(v + 1) + ";";
        exec(db_, sql.c_str());
        tx.commit();
    }
}

std::string config_db::add_domain(std::string_view raw) {
    std::string name = norm_domain(raw);
    transaction tx(db_, true);
    {
        stmt s(db_, "SELECT 1 FROM domains WHERE name = ?1");
        s.bind(1, name);
        if (s.step()) fail(kind::conflict, "domain " + name + " already exists");
    }
    stmt(db_, "INSERT INTO domains (name) VALUES (?1)").bind(1, name).run();
    tx.commit();
    return name;
}

void config_db::remove_domain(std::string_view raw) {
    std::string name = norm_domain(raw);
    transaction tx(db_, true);
    std::int64_t id = domain_id(db_, name);
    stmt c(db_, "SELECT (SELECT count(*) FROM mailboxes WHERE domain_id = ?1),"
                " (SELECT count(*) FROM forwarders WHERE domain_id = ?1)");
    c.bind(1, id).step();
    std::int64_t mb = c.i64(0), fw = c.i64(1);
    if (mb > 0 || fw > 0) {
        std::string what;
        if (mb > 0) what = std::to_string(mb) + (mb == 1 ? " mailbox" : " mailboxes");
        if (fw > 0)
            what += (what.empty() ? "" : " and ") + std::to_string(fw) +
                    (fw == 1 ? " forwarder" : " forwarders");
        fail(kind::conflict, "domain " + name + " still has " + what + "; remove " +
                                 (mb + fw == 1 ? "it" : "them") + " first");
    }
    stmt(db_, "DELETE FROM domains WHERE id = ?1").bind(1, id).run();
    tx.commit();
}

std::vector<domain_row> config_db::list_domains() {
    std::vector<domain_row> out;
    stmt s(db_, "SELECT d.name, d.created_at,"
                " (SELECT count(*) FROM mailboxes m WHERE m.domain_id = d.id),"
                " (SELECT count(*) FROM forwarders f WHERE f.domain_id = d.id)"
                " FROM domains d ORDER BY d.name");
    while (s.step()) out.push_back({s.text(0), s.i64(2), s.i64(3), s.i64(1)});
    return out;
}

std::string config_db::add_mailbox(std::string_view raw, std::string_view password,
                                   std::uint64_t quota_bytes) {
    std::string address = norm_address(raw);
    std::int64_t quota = quota_value(quota_bytes);
    std::string hash = hash_or_fail(password); // slow (yescrypt): outside the write lock
    std::string domain = domain_of(address);
    std::string local = address.substr(0, address.rfind('@'));
    transaction tx(db_, true);
    std::int64_t did = domain_id(db_, domain);
    if (mailbox_exists(db_, address)) fail(kind::conflict, "mailbox " + address + " already exists");
    {
        stmt s(db_, "SELECT 1 FROM forwarders WHERE source = ?1");
        s.bind(1, address);
        if (s.step())
            fail(kind::conflict, address + " is a forwarder; remove it first with: carteroctl "
                                           "forwarder remove " + address);
    }
    stmt(db_, "INSERT INTO mailboxes (domain_id, local_part, address, password_hash, quota_bytes)"
              " VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, did).bind(2, local).bind(3, address).bind(4, hash).bind(5, quota).run();
    tx.commit();
    return address;
}

namespace {
// Runs an UPDATE on one mailbox by address, or not_found.
void update_mailbox(sqlite3* db, const std::string& address, const char* sql,
                    auto&& bind_value) {
    transaction tx(db, true);
    stmt s(db, sql);
    bind_value(s);
    s.bind(2, address).run();
    if (sqlite3_changes(db) == 0) {
        fail(kind::not_found, "mailbox " + address + " does not exist");
    }
    tx.commit();
}
} // namespace

void config_db::set_password(std::string_view raw, std::string_view password) {
    std::string address = norm_address(raw);
    std::string hash = hash_or_fail(password);
    update_mailbox(db_, address, "UPDATE mailboxes SET password_hash = ?1 WHERE address = ?2",
                   [&](stmt& s) { s.bind(1, hash); });
}

void config_db::set_quota(std::string_view raw, std::uint64_t quota_bytes) {
    std::string address = norm_address(raw);
    std::int64_t quota = quota_value(quota_bytes);
    update_mailbox(db_, address, "UPDATE mailboxes SET quota_bytes = ?1 WHERE address = ?2",
                   [&](stmt& s) { s.bind(1, quota); });
}

void config_db::set_enabled(std::string_view raw, bool enabled) {
    std::string address = norm_address(raw);
    update_mailbox(db_, address, "UPDATE mailboxes SET enabled = ?1 WHERE address = ?2",
                   [&](stmt& s) { s.bind(1, std::int64_t{enabled ? 1 : 0}); });
}

std::vector<mailbox_row> config_db::list_mailboxes(std::string_view domain) {
    std::vector<mailbox_row> out;
    transaction tx(db_, false);
    std::string sql = "SELECT m.address, m.quota_bytes, m.enabled, m.created_at FROM mailboxes m"
                      " JOIN domains d ON d.id = m.domain_id";
    std::int64_t did = 0;
    if (!domain.empty()) {
        did = domain_id(db_, norm_domain(domain));
        sql += " WHERE m.domain_id = ?1";
    }
    sql += " ORDER BY d.name, m.local_part";
    stmt s(db_, sql);
    if (!domain.empty()) s.bind(1, did);
    while (s.step())
        out.push_back({s.text(0), static_cast<std::uint64_t>(s.i64(1)), s.i64(2) != 0, s.i64(3)});
    return out;
}

void config_db::remove_mailbox(std::string_view raw) {
    std::string address = norm_address(raw);
    transaction tx(db_, true);
    stmt(db_, "DELETE FROM mailboxes WHERE address = ?1").bind(1, address).run();
    if (sqlite3_changes(db_) == 0) fail(kind::not_found, "mailbox " + address + " does not exist");
    tx.commit();
}

forwarder_row config_db::add_forwarder(std::string_view raw_source,
                                       const std::vector<std::string>& raw_destinations) {
    std::string source = norm_source(raw_source);
    if (raw_destinations.empty())
        fail(kind::invalid, "forwarder " + source + " needs at least one destination address");
    std::vector<std::string> dests;
    for (const auto& d : raw_destinations) {
        if (!d.empty() && d.front() == '@')
            fail(kind::invalid, "destination " + quoted(d) +
                                    " is a whole domain; a destination must be one address");
        std::string a = norm_address(d);
        if (a == source)
            fail(kind::invalid, "forwarder " + source + " may not forward to itself");
        if (std::find(dests.begin(), dests.end(), a) == dests.end()) dests.push_back(std::move(a));
    }
    std::string domain = source.substr(source.rfind('@') + 1);
    transaction tx(db_, true);
    std::int64_t did = domain_id(db_, domain);
    if (mailbox_exists(db_, source))
        fail(kind::conflict, source + " is a mailbox; a forwarder may not shadow it (remove the "
                                      "mailbox first with: carteroctl mailbox remove " + source +
                                      ")");
    std::int64_t fid = 0;
    {
        stmt s(db_, "SELECT id FROM forwarders WHERE source = ?1");
        s.bind(1, source);
        if (s.step()) fid = s.i64(0);
    }
    if (fid == 0) {
        stmt(db_, "INSERT INTO forwarders (domain_id, source) VALUES (?1, ?2)")
            .bind(1, did).bind(2, source).run();
        fid = sqlite3_last_insert_rowid(db_);
    }
    for (const auto& d : dests)
        stmt(db_, "INSERT OR IGNORE INTO forwarder_destinations (forwarder_id, destination)"
                  " VALUES (?1, ?2)")
            .bind(1, fid).bind(2, d).run();
    forwarder_row row{source, {}};
    {
        stmt s(db_, "SELECT destination FROM forwarder_destinations WHERE forwarder_id = ?1"
                    " ORDER BY rowid");
        s.bind(1, fid);
        while (s.step()) row.destinations.push_back(s.text(0));
    }
    tx.commit();
    return row;
}

std::vector<forwarder_row> config_db::list_forwarders(std::string_view domain) {
    std::vector<forwarder_row> out;
    transaction tx(db_, false);
    std::string sql = "SELECT f.source, fd.destination FROM forwarders f"
                      " JOIN domains d ON d.id = f.domain_id"
                      " LEFT JOIN forwarder_destinations fd ON fd.forwarder_id = f.id";
    std::int64_t did = 0;
    if (!domain.empty()) {
        did = domain_id(db_, norm_domain(domain));
        sql += " WHERE f.domain_id = ?1";
    }
    // Catch-alls ("@d") sort before the domain's addresses; destinations in insertion order.
    sql += " ORDER BY d.name, f.source, fd.rowid";
    stmt s(db_, sql);
    if (!domain.empty()) s.bind(1, did);
    while (s.step()) {
        std::string src = s.text(0);
        if (out.empty() || out.back().source != src) out.push_back({src, {}});
        if (!s.is_null(1)) out.back().destinations.push_back(s.text(1));
    }
    return out;
}

void config_db::remove_forwarder(std::string_view raw) {
    std::string source = norm_source(raw);
    transaction tx(db_, true);
    stmt(db_, "DELETE FROM forwarders WHERE source = ?1").bind(1, source).run();
    if (sqlite3_changes(db_) == 0)
        fail(kind::not_found, "forwarder " + source + " does not exist");
    tx.commit();
}

const std::vector<setting_info>& config_db::known_settings() { return settings_table; }

std::optional<std::string> config_db::get_setting(std::string_view key) {
    bool known = std::any_of(settings_table.begin(), settings_table.end(),
                             [&](const setting_info& s) { return s.key == key; });
    if (!known) validate_setting(key, ""); // throws the "unknown setting" error
    stmt s(db_, "SELECT value FROM settings WHERE key = ?1");
    s.bind(1, key);
    if (!s.step()) return std::nullopt;
    return s.text(0);
}

void config_db::set_setting(std::string_view key, std::string_view value) {
    std::string v = validate_setting(key, value);
    transaction tx(db_, true);
    stmt(db_, "INSERT INTO settings (key, value) VALUES (?1, ?2)"
              " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(1, key).bind(2, v).run();
    tx.commit();
}

snapshot config_db::load_snapshot() {
    snapshot snap;
    transaction tx(db_, false);
    {
        stmt s(db_, "SELECT name FROM domains");
        while (s.step()) snap.domains.insert(s.text(0));
    }
    // Read data_version after the read transaction has started (the first SELECT takes the
    // snapshot), so a commit racing with this load shows up as a later change.
    snap.data_version = data_version();
    {
        stmt s(db_, "SELECT m.id, m.address, m.local_part, d.name, m.password_hash,"
                    " m.quota_bytes, m.enabled FROM mailboxes m JOIN domains d ON d.id = m.domain_id");
        auto hint = snap.mailboxes.end();
        while (s.step()) {
            mailbox_entry e;
            e.id = s.i64(0);
            e.address = s.text(1);
            e.local = s.text(2);
            e.domain = s.text(3);
            e.password_hash = s.text(4);
            e.quota_bytes = static_cast<std::uint64_t>(s.i64(5));
            e.enabled = s.i64(6) != 0;
            std::string key = e.address;
            hint = snap.mailboxes.emplace_hint(hint, std::move(key), std::move(e));
        }
    }
    {
        stmt s(db_, "SELECT f.source, fd.destination FROM forwarders f"
                    " JOIN forwarder_destinations fd ON fd.forwarder_id = f.id"
                    " ORDER BY f.source, fd.rowid");
        while (s.step()) snap.forwarders[s.text(0)].push_back(s.text(1));
    }
    {
        stmt s(db_, "SELECT value FROM settings WHERE key = 'postmaster'");
        if (s.step()) snap.postmaster = s.text(0);
    }
    snap.filters = load_filter_snapshot(db_); // spam filtering (core/filter_store.cpp)
    tx.commit();
    return snap;
}

std::int64_t config_db::data_version() {
    stmt s(db_, "PRAGMA data_version");
    s.step();
    return s.i64(0);
}

} // namespace cartero::config
