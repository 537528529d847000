// core/sending_store.cpp — dedicated IPs, pools and the relayhost in config.db (schema step 3).
#include "core/sending_store.hpp"

#include "core/address_norm.hpp"

#include <arpa/inet.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>

namespace cartero::config {
namespace {

using kind = config_error::kind;

[[noreturn]] void fail(kind k, const std::string& what) { throw config_error(k, what); }

// A prepared statement on config_db's connection (config_db keeps its own helper private).
class stmt {
public:
    stmt(sqlite3* db, std::string_view sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &st_, nullptr) !=
            SQLITE_OK)
            fail_sqlite();
    }
    ~stmt() { sqlite3_finalize(st_); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;

    stmt& bind(int i, std::string_view v) {
        if (sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) !=
            SQLITE_OK)
            fail_sqlite();
        return *this;
    }
    stmt& bind(int i, std::int64_t v) {
        if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail_sqlite();
        return *this;
    }
    stmt& bind_null(int i) {
        if (sqlite3_bind_null(st_, i) != SQLITE_OK) fail_sqlite();
        return *this;
    }
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        fail_sqlite();
    }
    void run() {
        while (step()) {
        }
    }
    std::int64_t i64(int col) { return sqlite3_column_int64(st_, col); }
    bool is_null(int col) { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
    std::string text(int col) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : "";
    }

private:
    [[noreturn]] void fail_sqlite() {
        if (sqlite3_errcode(db_) == SQLITE_CONSTRAINT)
            fail(kind::conflict, std::string("config.db refused the change: ") + sqlite3_errmsg(db_));
        fail(kind::storage, std::string("config.db: ") + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
};

std::string norm_pool(std::string_view name) {
    std::string n;
    for (char c : name) n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = !n.empty() && n.size() <= 63 && std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok)
        fail(kind::invalid, "pool name " + quoted(name) +
                                " is not 1-63 letters, digits, '-' or '_'");
    return n;
}

std::optional<std::int64_t> pool_id(sqlite3* db, const std::string& name) {
    stmt s(db, "SELECT id FROM ip_pools WHERE name = ?1");
    s.bind(1, name);
    if (!s.step()) return std::nullopt;
    return s.i64(0);
}

std::string norm_host(std::string_view host, const char* what) {
    auto h = names::normalize_domain(host);
    if (!h) fail(kind::invalid, std::string(what) + " " + quoted(host) + ": " + h.error);
    return h.value;
}

ip_address norm_ip(std::string_view address) {
    auto ip = parse_ip(address);
    if (!ip) fail(kind::invalid, ip.error);
    return ip.value;
}

// Validates a row and resolves its pool to an id (nullopt = no pool).
std::optional<std::int64_t> checked(sqlite3* db, ip_row& row) {
    auto ip = norm_ip(row.address);
    row.address = ip.text;
    row.family = ip.family;
    row.hostname = norm_host(row.hostname, "hostname");
    if (row.pool.empty()) return std::nullopt;
    row.pool = norm_pool(row.pool);
    auto id = pool_id(db, row.pool);
    if (!id)
        fail(kind::not_found, "pool " + row.pool + " does not exist; add the pool first");
    return id;
}

void bind_row(stmt& s, const ip_row& row, std::optional<std::int64_t> pool) {
    s.bind(1, row.address).bind(2, static_cast<std::int64_t>(row.family)).bind(3, row.hostname);
    if (pool) s.bind(4, *pool);
    else s.bind_null(4);
    if (row.mx_preference) s.bind(5, static_cast<std::int64_t>(*row.mx_preference));
    else s.bind_null(5);
}

// The input as an error echoes it (hostile bytes escaped by quoted()), without the quotes, so
// the message reads "10.0.0.300 is not an IPv4 address".
std::string unquoted(std::string_view input) {
    std::string q = quoted(input);
    return q.substr(1, q.size() - 2);
}

bool ip_exists(sqlite3* db, const std::string& address) {
    stmt s(db, "SELECT 1 FROM ips WHERE address = ?1");
    s.bind(1, address);
    return s.step();
}

} // namespace

parsed<ip_address> parse_ip(std::string_view input) {
    std::string s(input);
    if (s.find(':') != std::string::npos) {
        in6_addr a6{};
        char buf[INET6_ADDRSTRLEN];
        if (s.size() > 45 || ::inet_pton(AF_INET6, s.c_str(), &a6) != 1 ||
            !::inet_ntop(AF_INET6, &a6, buf, sizeof buf))
            return parsed<ip_address>::failure(unquoted(input) + " is not an IPv6 address");
        return parsed<ip_address>::success({buf, 6});
    }
    in_addr a4{};
    char buf[INET_ADDRSTRLEN];
    // inet_pton(AF_INET) accepts only the dotted quad (no octal, no shortened forms).
    if (s.empty() || s.size() > 15 || ::inet_pton(AF_INET, s.c_str(), &a4) != 1 ||
        !::inet_ntop(AF_INET, &a4, buf, sizeof buf))
        return parsed<ip_address>::failure((s.empty() ? std::string("''") : unquoted(input)) +
                                           " is not an IPv4 address");
    return parsed<ip_address>::success({buf, 4});
}

std::string add_pool(config_db& db, std::string_view name) {
    std::string n = norm_pool(name);
    if (pool_id(db.handle(), n)) fail(kind::conflict, "pool " + n + " already exists");
    stmt(db.handle(), "INSERT INTO ip_pools (name) VALUES (?1)").bind(1, n).run();
    return n;
}

void remove_pool(config_db& db, std::string_view name) {
    std::string n = norm_pool(name);
    auto id = pool_id(db.handle(), n);
    if (!id) fail(kind::not_found, "pool " + n + " does not exist");
    stmt c(db.handle(), "SELECT count(*) FROM ips WHERE pool_id = ?1");
    c.bind(1, *id);
    c.step();
    if (auto k = c.i64(0); k > 0)
        fail(kind::conflict, "pool " + n + " still has " + std::to_string(k) +
                                 (k == 1 ? " address" : " addresses") + "; move or remove them first");
    stmt(db.handle(), "DELETE FROM ip_pools WHERE id = ?1").bind(1, *id).run();
}

std::vector<ip_pool_row> list_pools(config_db& db) {
    std::vector<ip_pool_row> out;
    stmt s(db.handle(), "SELECT p.name, (SELECT count(*) FROM ips i WHERE i.pool_id = p.id)"
                        " FROM ip_pools p ORDER BY p.name");
    while (s.step()) out.push_back({s.text(0), s.i64(1)});
    return out;
}

ip_row add_ip(config_db& db, const ip_row& in) {
    ip_row row = in;
    auto pool = checked(db.handle(), row);
    if (ip_exists(db.handle(), row.address))
        fail(kind::conflict, "address " + row.address + " already exists");
    stmt s(db.handle(), "INSERT INTO ips (address, family, hostname, pool_id, mx_preference)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)");
    bind_row(s, row, pool);
    s.run();
    return row;
}

ip_row update_ip(config_db& db, const ip_row& in) {
    ip_row row = in;
    auto pool = checked(db.handle(), row);
    if (!ip_exists(db.handle(), row.address))
        fail(kind::not_found, "address " + row.address + " does not exist");
    stmt s(db.handle(), "UPDATE ips SET family = ?2, hostname = ?3, pool_id = ?4,"
                        " mx_preference = ?5 WHERE address = ?1");
    bind_row(s, row, pool);
    s.run();
    return row;
}

void remove_ip(config_db& db, std::string_view address) {
    auto ip = norm_ip(address);
    if (!ip_exists(db.handle(), ip.text))
        fail(kind::not_found, "address " + ip.text + " does not exist");
    stmt(db.handle(), "DELETE FROM ips WHERE address = ?1").bind(1, ip.text).run();
}

std::vector<ip_row> list_ips(config_db& db) {
    std::vector<ip_row> out;
    stmt s(db.handle(), "SELECT i.address, i.family, i.hostname, coalesce(p.name, ''),"
                        " i.mx_preference FROM ips i LEFT JOIN ip_pools p ON p.id = i.pool_id"
                        " ORDER BY i.family, i.address");
    while (s.step()) {
        ip_row r{s.text(0), static_cast<int>(s.i64(1)), s.text(2), s.text(3), std::nullopt};
        if (!s.is_null(4)) r.mx_preference = static_cast<std::uint16_t>(s.i64(4));
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<relayhost_row> get_relayhost(config_db& db) {
    stmt s(db.handle(), "SELECT next_hop, port FROM transport_routes WHERE destination = '*'");
    if (!s.step()) return std::nullopt;
    return relayhost_row{s.text(0), static_cast<std::uint16_t>(s.i64(1))};
}

void set_relayhost(config_db& db, const relayhost_row& in) {
    relayhost_row row = in;
    if (auto ip = parse_ip(row.next_hop); ip) row.next_hop = ip.value.text;
    else row.next_hop = norm_host(row.next_hop, "relayhost");
    if (row.port == 0) fail(kind::invalid, "relayhost port 0 is not a port (1-65535)");
    stmt s(db.handle(), "INSERT INTO transport_routes (destination, next_hop, port)"
                        " VALUES ('*', ?1, ?2) ON CONFLICT (destination) DO UPDATE"
                        " SET next_hop = excluded.next_hop, port = excluded.port");
    s.bind(1, row.next_hop).bind(2, static_cast<std::int64_t>(row.port)).run();
}

void clear_relayhost(config_db& db) {
    stmt(db.handle(), "DELETE FROM transport_routes WHERE destination = '*'").run();
}

} // namespace cartero::config
