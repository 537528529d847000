// core/admin_store.cpp — admins, API tokens, panel sessions, login throttle rows, TOTP secrets.
#include "core/admin_store.hpp"

#include "core/password.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <ctime>
#include <stdexcept>

namespace cartero::admin {

using config::config_error;
using kind = config::config_error::kind;

namespace {

[[noreturn]] void fail(kind k, const std::string& what) { throw config_error(k, what); }

// A prepared statement bound positionally; throws storage errors with SQLite's text.
class stmt {
public:
    stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK)
            fail(kind::storage, std::string("config.db: ") + sqlite3_errmsg(db));
    }
    ~stmt() { sqlite3_finalize(st_); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;

    stmt& bind(int i, std::string_view v) {
        sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(st_, i, v);
        return *this;
    }
    stmt& bind_null(int i) {
        sqlite3_bind_null(st_, i);
        return *this;
    }
    // true: a row is available.
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE ||
            sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY)
            fail(kind::conflict, std::string("config.db refused the change: ") + sqlite3_errmsg(db_));
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            fail(kind::invalid, std::string("config.db refused the change: ") + sqlite3_errmsg(db_));
        fail(kind::storage, std::string("config.db: ") + sqlite3_errmsg(db_));
    }
    std::int64_t i64(int c) { return sqlite3_column_int64(st_, c); }
    bool is_null(int c) { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
    std::string text(int c) {
        auto p = sqlite3_column_text(st_, c);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
                 : std::string();
    }

private:
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        fail(kind::storage, "config.db: " + msg);
    }
}

// Rolls back unless committed; IMMEDIATE for writers (checks inside still hold at commit).
class transaction {
public:
    transaction(sqlite3* db, bool write) : db_(db) { exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN"); }
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

std::string valid_username(std::string_view name) {
    auto u = check_username(name);
    if (!u) fail(kind::invalid, u.error);
    return u.value;
}

void check_password(std::string_view pw) {
    if (pw.empty()) fail(kind::invalid, "the password is empty");
    if (pw.size() > 1024) fail(kind::invalid, "the password is longer than 1024 bytes");
    if (pw.find('\0') != std::string_view::npos) fail(kind::invalid, "the password contains a NUL byte");
}

const char* admin_select =
    "SELECT a.id, a.username, a.totp_enabled, a.created_at, "
    "(SELECT count(*) FROM api_tokens t WHERE t.admin_id = a.id) FROM admins a ";

admin_row read_admin(stmt& s) {
    return admin_row{s.i64(0), s.text(1), s.i64(2) != 0, s.i64(3), s.i64(4)};
}

std::int64_t admin_id_of(sqlite3* db, std::string_view username) {
    stmt s(db, "SELECT id FROM admins WHERE username = ?1");
    s.bind(1, username);
    if (!s.step())
        fail(kind::not_found, "no admin " + std::string(username) +
                                  " (see: carteroctl admin list)");
    return s.i64(0);
}

// A hash of a random password, computed once: verifying against it makes a login with an
// unknown name cost as much as one with a known name.
const std::string& dummy_hash() {
    static const std::string h = password::hash_password(random_base64url(16));
    return h;
}

std::int64_t unix_now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

} // namespace

parsed<std::string> check_username(std::string_view name) {
    if (name.empty()) return parsed<std::string>::failure("the username is empty");
    if (name.size() > 254)
        return parsed<std::string>::failure("the username is longer than 254 characters");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
        if (!ok)
            return parsed<std::string>::failure(
                "the username may contain only letters, digits and . _ @ + -");
    }
    return parsed<std::string>::success(std::string(name));
}

admin_row add_admin(config::config_db& db, std::string_view username, std::string_view password) {
    const auto name = valid_username(username);
    check_password(password);
    const auto hash = password::hash_password(password);
    transaction tx(db.handle(), true);
    {
        stmt s(db.handle(), "SELECT 1 FROM admins WHERE username = ?1");
        s.bind(1, name);
        if (s.step()) fail(kind::conflict, "admin " + name + " already exists");
    }
    stmt s(db.handle(), "INSERT INTO admins (username, password_hash) VALUES (?1, ?2)");
    s.bind(1, name).bind(2, hash).step();
    tx.commit();
    return *find_admin(db, name);
}

void remove_admin(config::config_db& db, std::string_view username) {
    transaction tx(db.handle(), true);
    const auto id = admin_id_of(db.handle(), username);
    {
        stmt c(db.handle(), "SELECT count(*) FROM admins");
        c.step();
        if (c.i64(0) <= 1)
            fail(kind::conflict, "admin " + std::string(username) +
                                     " is the last admin; add another one before removing it");
    }
    stmt(db.handle(), "DELETE FROM api_tokens WHERE admin_id = ?1").bind(1, id).step();
    stmt(db.handle(), "DELETE FROM panel_sessions WHERE admin_id = ?1").bind(1, id).step();
    stmt(db.handle(), "DELETE FROM admins WHERE id = ?1").bind(1, id).step();
    tx.commit();
}

std::vector<admin_row> list_admins(config::config_db& db) {
    std::vector<admin_row> out;
    stmt s(db.handle(), (std::string(admin_select) + "ORDER BY a.username").c_str());
    while (s.step()) out.push_back(read_admin(s));
    return out;
}

std::optional<admin_row> find_admin(config::config_db& db, std::string_view username) {
    stmt s(db.handle(), (std::string(admin_select) + "WHERE a.username = ?1").c_str());
    s.bind(1, username);
    if (!s.step()) return std::nullopt;
    return read_admin(s);
}

void set_admin_password(config::config_db& db, std::string_view username,
                        std::string_view password, std::string_view keep_session_id) {
    check_password(password);
    const auto hash = password::hash_password(password);
    transaction tx(db.handle(), true);
    const auto id = admin_id_of(db.handle(), username);
    stmt(db.handle(), "UPDATE admins SET password_hash = ?2 WHERE id = ?1").bind(1, id).bind(2, hash).step();
    stmt(db.handle(), "DELETE FROM panel_sessions WHERE admin_id = ?1 AND id_hash IS NOT ?2")
        .bind(1, id)
        .bind(2, keep_session_id.empty() ? std::string() : sha256_hex(keep_session_id))
        .step();
    tx.commit();
}

std::optional<admin_row> verify_login(config::config_db& db, std::string_view username,
                                      std::string_view password) {
    std::string stored;
    std::optional<admin_row> row;
    if (check_username(username) && !password.empty() && password.size() <= 1024) {
        stmt s(db.handle(), "SELECT password_hash FROM admins WHERE username = ?1");
        s.bind(1, username);
        if (s.step()) stored = s.text(0);
    }
    if (stored.empty()) {
        (void)password::verify_password(password.empty() ? "x" : password, dummy_hash());
        return std::nullopt;
    }
    if (!password::verify_password(password, stored)) return std::nullopt;
    return find_admin(db, username);
}

std::string create_token(config::config_db& db, std::string_view username, std::string_view label) {
    if (label.size() > 100) fail(kind::invalid, "the token label is longer than 100 characters");
    const std::string token = "ct_" + random_base64url(32);
    transaction tx(db.handle(), true);
    const auto id = admin_id_of(db.handle(), username);
    stmt(db.handle(), "INSERT INTO api_tokens (admin_id, token_hash, label) VALUES (?1, ?2, ?3)")
        .bind(1, id)
        .bind(2, sha256_hex(token))
        .bind(3, label)
        .step();
    tx.commit();
    return token;
}

std::optional<admin_row> admin_for_token(config::config_db& db, std::string_view token) {
    if (!token.starts_with("ct_") || token.size() != 46) return std::nullopt;
    const auto hash = sha256_hex(token);
    std::string username;
    {
        stmt s(db.handle(), "SELECT a.username FROM api_tokens t JOIN admins a ON a.id = t.admin_id "
                            "WHERE t.token_hash = ?1");
        s.bind(1, hash);
        if (!s.step()) return std::nullopt;
        username = s.text(0);
    }
    stmt(db.handle(), "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1")
        .bind(1, hash)
        .bind(2, unix_now())
        .step();
    return find_admin(db, username);
}

int revoke_tokens(config::config_db& db, std::string_view username) {
    transaction tx(db.handle(), true);
    const auto id = admin_id_of(db.handle(), username);
    stmt(db.handle(), "DELETE FROM api_tokens WHERE admin_id = ?1").bind(1, id).step();
    const int n = sqlite3_changes(db.handle());
    tx.commit();
    return n;
}

new_session create_session(config::config_db& db, std::int64_t admin_id, std::int64_t now,
                           std::int64_t max_age_seconds, std::string_view remote_addr) {
    new_session out;
    out.id = random_base64url(32);
    out.row.admin_id = admin_id;
    out.row.csrf_token = random_base64url(32);
    out.row.created_at = now;
    out.row.last_seen_at = now;
    out.row.expires_at = now + max_age_seconds;
    transaction tx(db.handle(), true);
    // Expired sessions of everyone go now and then: at each login is often enough.
    stmt(db.handle(), "DELETE FROM panel_sessions WHERE expires_at <= ?1").bind(1, now).step();
    stmt(db.handle(), "INSERT INTO panel_sessions (id_hash, admin_id, csrf_token, created_at, "
                      "last_seen_at, expires_at, remote_addr) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)")
        .bind(1, sha256_hex(out.id))
        .bind(2, admin_id)
        .bind(3, out.row.csrf_token)
        .bind(4, now)
        .bind(5, out.row.expires_at)
        .bind(6, remote_addr.substr(0, 64))
        .step();
    {
        stmt s(db.handle(), "SELECT username, totp_enabled FROM admins WHERE id = ?1");
        s.bind(1, admin_id);
        if (!s.step()) fail(kind::not_found, "no such admin");
        out.row.username = s.text(0);
        out.row.totp_enabled = s.i64(1) != 0;
    }
    tx.commit();
    return out;
}

std::optional<session_row> find_session(config::config_db& db, std::string_view id,
                                        std::int64_t now, std::int64_t idle_seconds) {
    if (id.size() != 43) return std::nullopt;
    const auto hash = sha256_hex(id);
    session_row r;
    {
        stmt s(db.handle(), "SELECT s.admin_id, a.username, a.totp_enabled, s.csrf_token, "
                            "s.created_at, s.last_seen_at, s.expires_at FROM panel_sessions s "
                            "JOIN admins a ON a.id = s.admin_id WHERE s.id_hash = ?1");
        s.bind(1, hash);
        if (!s.step()) return std::nullopt;
        r = session_row{s.i64(0), s.text(1), s.i64(2) != 0, s.text(3), s.i64(4), s.i64(5), s.i64(6)};
    }
    if (now >= r.expires_at || now - r.last_seen_at >= idle_seconds) {
        stmt(db.handle(), "DELETE FROM panel_sessions WHERE id_hash = ?1").bind(1, hash).step();
        return std::nullopt;
    }
    // Touch at most every few seconds: a busy page must not turn every read into a write.
    if (now - r.last_seen_at >= 5) {
        stmt(db.handle(), "UPDATE panel_sessions SET last_seen_at = ?2 WHERE id_hash = ?1")
            .bind(1, hash)
            .bind(2, now)
            .step();
        r.last_seen_at = now;
    }
    return r;
}

void delete_session(config::config_db& db, std::string_view id) {
    stmt(db.handle(), "DELETE FROM panel_sessions WHERE id_hash = ?1").bind(1, sha256_hex(id)).step();
}

throttle_row get_throttle(config::config_db& db, std::string_view key) {
    stmt s(db.handle(), "SELECT failures, window_start, locked_until FROM login_throttle WHERE key = ?1");
    s.bind(1, key);
    if (!s.step()) return {};
    return throttle_row{s.i64(0), s.i64(1), s.i64(2)};
}

throttle_row update_throttle(config::config_db& db, std::string_view key,
                             const std::function<throttle_row(throttle_row)>& change) {
    transaction tx(db.handle(), true);
    const auto now_row = change(get_throttle(db, key));
    if (now_row == throttle_row{}) {
        stmt(db.handle(), "DELETE FROM login_throttle WHERE key = ?1").bind(1, key).step();
    } else {
        stmt(db.handle(), "INSERT INTO login_throttle (key, failures, window_start, locked_until) "
                          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE SET "
                          "failures = ?2, window_start = ?3, locked_until = ?4")
            .bind(1, key)
            .bind(2, now_row.failures)
            .bind(3, now_row.window_start)
            .bind(4, now_row.locked_until)
            .step();
    }
    tx.commit();
    return now_row;
}

std::optional<std::string> totp_secret(config::config_db& db, std::int64_t admin_id) {
    stmt s(db.handle(), "SELECT totp_secret FROM admins WHERE id = ?1");
    s.bind(1, admin_id);
    if (!s.step() || s.is_null(0)) return std::nullopt;
    return s.text(0);
}

void set_totp(config::config_db& db, std::int64_t admin_id, std::optional<std::string> secret,
              bool enabled) {
    stmt s(db.handle(), "UPDATE admins SET totp_secret = ?2, totp_enabled = ?3 WHERE id = ?1");
    s.bind(1, admin_id);
    if (secret) s.bind(2, *secret);
    else s.bind_null(2);
    s.bind(3, static_cast<std::int64_t>(enabled && secret ? 1 : 0));
    s.step();
    if (sqlite3_changes(db.handle()) == 0) fail(kind::not_found, "no such admin");
}

std::string random_base64url(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("no randomness available (RAND_bytes failed)");
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : raw) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

std::string random_password() {
    // No 0/O, 1/l/I: read off a terminal and typed in a browser.
    static constexpr char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    constexpr std::size_t n = sizeof(alphabet) - 1;
    std::string out;
    while (out.size() < 20) {
        unsigned char b = 0;
        if (RAND_bytes(&b, 1) != 1) throw std::runtime_error("no randomness available");
        if (b >= 256 - 256 % n) continue; // no modulo bias
        out += alphabet[b % n];
    }
    return out;
}

} // namespace cartero::admin
