// core/sending_store.cpp — dedicated IPs, pools, sender and transport routes, pacing rules and
// the relayhost in config.db (schema step 3).
#include "core/sending_store.hpp"

#include "core/address_norm.hpp"
#include "core/sql_stmt.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace cartero::config {
namespace {

using kind = config_error::kind;

[[noreturn]] void fail(kind k, const std::string& what) { throw config_error(k, what); }

using sql::stmt;

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

// "user@domain", "domain" or ".domain" (every subdomain of domain), normalised.
std::string norm_sender(std::string_view sender) {
    if (sender.starts_with('.')) return "." + norm_host(sender.substr(1), "sender subdomain pattern");
    if (sender.find('@') != std::string_view::npos) {
        auto a = names::normalize_address(sender);
        if (!a) fail(kind::invalid, "sender " + quoted(sender) + ": " + a.error);
        return a.value;
    }
    return norm_host(sender, "sender domain");
}

// "*", "domain" or ".domain" (every subdomain of domain, Postfix transport_maps style).
std::string norm_destination(std::string_view dest) {
    if (dest == "*") return "*";
    if (dest.starts_with('.')) return "." + norm_host(dest.substr(1), "destination subdomain pattern");
    return norm_host(dest, "destination");
}

std::string norm_next_hop(std::string_view hop) {
    std::string h(hop);
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (auto ip = parse_ip(h); ip) return ip.value.text;
    const bool looks_like_ip = !h.empty() && (h.find(':') != std::string::npos ||
                                              h.find_first_not_of("0123456789.") == std::string::npos);
    if (looks_like_ip)
        fail(kind::invalid, parse_ip(h).error); // looks like an address: say why it is not one
    return norm_host(h, "next hop");
}

std::string secret_path_for(const std::string& state_dir, const std::string& dest) {
    return state_dir + "/secrets/transport-" + (dest == "*" ? std::string("relayhost") : dest) +
           ".secret";
}

// Writes `secret` + "\n" to `path` (0600, directory 0700), durably: temp file, fsync, rename.
void write_secret_file(const std::string& path, std::string_view secret) {
    if (secret.find_first_of("\r\n") != std::string_view::npos || secret.find('\0') != std::string_view::npos)
        fail(kind::invalid, "the password contains a line break or NUL");
    const std::string dir = path.substr(0, path.rfind('/'));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        fail(kind::storage, "cannot create " + dir + ": " + std::strerror(errno));
    const std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail(kind::storage, "cannot write " + tmp + ": " + std::strerror(errno));
    std::string data(secret);
    data += '\n';
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
              ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        if (ok) err = errno;
        ::unlink(tmp.c_str());
        fail(kind::storage, "cannot write " + path + ": " + std::strerror(err));
    }
}

constexpr std::int64_t max_connections_limit = 1000;
constexpr std::int64_t messages_per_minute_limit = 1000000;
constexpr std::int64_t messages_per_connection_limit = 100000;

void check_limit(const std::optional<std::int64_t>& v, const char* name, std::int64_t max) {
    if (v && (*v < 1 || *v > max))
        fail(kind::invalid, std::string(name) + " " + std::to_string(*v) + " is out of range (1-" +
                                std::to_string(max) + ")");
}

void check_limits(const pacing_rule_row& r) {
    check_limit(r.max_connections, "max-connections", max_connections_limit);
    check_limit(r.messages_per_minute, "messages-per-minute", messages_per_minute_limit);
    check_limit(r.messages_per_connection, "messages-per-connection", messages_per_connection_limit);
    if (!r.max_connections && !r.messages_per_minute && !r.messages_per_connection)
        fail(kind::invalid, "pacing rule " + r.pattern +
                                " sets no limit; give --max-connections, --messages-per-minute"
                                " or --messages-per-connection");
    if (r.note.size() > 200 ||
        std::any_of(r.note.begin(), r.note.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        fail(kind::invalid, "the note must be one line of at most 200 bytes");
}

void bind_opt(stmt& s, int i, const std::optional<std::int64_t>& v) {
    if (v) s.bind(i, *v);
    else s.bind_null(i);
}

std::optional<pacing_rule_row> find_pacing_rule(sqlite3* db, const std::string& pattern) {
    stmt s(db, "SELECT pattern, max_connections, messages_per_minute, messages_per_connection,"
               " note FROM pacing_rules WHERE pattern = ?1");
    s.bind(1, pattern);
    if (!s.step()) return std::nullopt;
    pacing_rule_row r;
    r.pattern = s.text(0);
    if (!s.is_null(1)) r.max_connections = s.i64(1);
    if (!s.is_null(2)) r.messages_per_minute = s.i64(2);
    if (!s.is_null(3)) r.messages_per_connection = s.i64(3);
    r.note = s.text(4);
    return r;
}

std::string checked_pattern(std::string_view pattern) {
    auto p = normalize_pacing_pattern(pattern);
    if (!p) fail(kind::invalid, p.error);
    return p.value;
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

sender_route_row add_sender_route(config_db& db, std::string_view sender, std::string_view pool) {
    sender_route_row row{norm_sender(sender), norm_pool(pool)};
    sql::transaction tx(db.handle(), true);
    auto id = pool_id(db.handle(), row.pool);
    if (!id) fail(kind::not_found, "pool " + row.pool + " does not exist; add the pool first");
    stmt e(db.handle(), "SELECT p.name FROM sender_routes r JOIN ip_pools p ON p.id = r.pool_id"
                        " WHERE r.sender = ?1");
    e.bind(1, row.sender);
    if (e.step())
        fail(kind::conflict, "sender " + row.sender + " is already routed to pool " + e.text(0) +
                                 "; remove that route first");
    stmt(db.handle(), "INSERT INTO sender_routes (sender, pool_id) VALUES (?1, ?2)")
        .bind(1, row.sender)
        .bind(2, *id)
        .run();
    tx.commit();
    return row;
}

void remove_sender_route(config_db& db, std::string_view sender) {
    std::string s = norm_sender(sender);
    stmt(db.handle(), "DELETE FROM sender_routes WHERE sender = ?1").bind(1, s).run();
    if (sqlite3_changes(db.handle()) == 0)
        fail(kind::not_found, "sender " + s + " has no route");
}

std::vector<sender_route_row> list_sender_routes(config_db& db) {
    std::vector<sender_route_row> out;
    stmt s(db.handle(), "SELECT r.sender, p.name FROM sender_routes r"
                        " JOIN ip_pools p ON p.id = r.pool_id ORDER BY r.sender");
    while (s.step()) out.push_back({s.text(0), s.text(1)});
    return out;
}

transport_route_row add_transport_route(config_db& db, const std::string& state_dir,
                                        const transport_route_row& in, std::string_view password) {
    transport_route_row row = in;
    row.destination = norm_destination(in.destination);
    row.next_hop = norm_next_hop(in.next_hop);
    if (row.port == 0) fail(kind::invalid, "port 0 is not a port (1-65535)");
    row.auth_secret_path.clear();
    if (row.auth_username.empty() != password.empty())
        fail(kind::invalid, row.auth_username.empty()
                                ? "a password was given without an AUTH user name"
                                : "AUTH user " + quoted(row.auth_username) +
                                      " needs a password (--password-stdin)");
    if (row.auth_username.size() > 255 ||
        std::any_of(row.auth_username.begin(), row.auth_username.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20; }))
        fail(kind::invalid, "AUTH user name " + quoted(row.auth_username) +
                                " must be 1-255 bytes without spaces or control characters");
    if (password.size() > 1024) fail(kind::invalid, "the password is longer than 1024 bytes");
    if (!row.auth_username.empty() && state_dir.empty())
        fail(kind::invalid, "a route with AUTH needs the state directory for its secret file");

    sql::transaction tx(db.handle(), true);
    stmt e(db.handle(), "SELECT next_hop, port FROM transport_routes WHERE destination = ?1");
    e.bind(1, row.destination);
    if (e.step())
        fail(kind::conflict, "destination " + row.destination + " already goes to " + e.text(0) +
                                 ":" + std::to_string(e.i64(1)) + "; remove that route first");
    if (!row.auth_username.empty()) {
        row.auth_secret_path = secret_path_for(state_dir, row.destination);
        write_secret_file(row.auth_secret_path, password);
    }
    try {
        stmt s(db.handle(), "INSERT INTO transport_routes (destination, next_hop, port, require_tls,"
                            " auth_username, auth_secret_path) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        s.bind(1, row.destination)
            .bind(2, row.next_hop)
            .bind(3, static_cast<std::int64_t>(row.port))
            .bind(4, std::int64_t{row.require_tls ? 1 : 0});
        if (row.auth_username.empty()) s.bind_null(5).bind_null(6);
        else s.bind(5, row.auth_username).bind(6, row.auth_secret_path);
        s.run();
        tx.commit();
    } catch (...) {
        if (!row.auth_secret_path.empty()) ::unlink(row.auth_secret_path.c_str());
        throw;
    }
    return row;
}

void remove_transport_route(config_db& db, std::string_view destination) {
    std::string d = norm_destination(destination);
    sql::transaction tx(db.handle(), true);
    stmt e(db.handle(), "SELECT coalesce(auth_secret_path, '') FROM transport_routes"
                        " WHERE destination = ?1");
    e.bind(1, d);
    if (!e.step())
        fail(kind::not_found, d == "*" ? std::string("no relayhost (destination *) is set")
                                       : "destination " + d + " has no transport route");
    std::string secret = e.text(0);
    stmt(db.handle(), "DELETE FROM transport_routes WHERE destination = ?1").bind(1, d).run();
    tx.commit();
    if (!secret.empty() && ::unlink(secret.c_str()) != 0 && errno != ENOENT)
        fail(kind::storage, "route removed, but its secret file " + secret +
                                " could not be deleted: " + std::strerror(errno));
}

std::vector<transport_route_row> list_transport_routes(config_db& db) {
    std::vector<transport_route_row> out;
    stmt s(db.handle(), "SELECT destination, next_hop, port, require_tls,"
                        " coalesce(auth_username, ''), coalesce(auth_secret_path, '')"
                        " FROM transport_routes ORDER BY destination <> '*', destination");
    while (s.step())
        out.push_back({s.text(0), s.text(1), static_cast<std::uint16_t>(s.i64(2)), s.i64(3) != 0,
                       s.text(4), s.text(5)});
    return out;
}

std::string read_transport_secret(const transport_route_row& row) {
    std::ifstream f(row.auth_secret_path);
    std::string line;
    if (!f || !std::getline(f, line) || line.empty())
        fail(kind::storage, "cannot read the AUTH password of destination " + row.destination +
                                " from " + row.auth_secret_path);
    return line;
}

parsed<std::string> normalize_pacing_pattern(std::string_view pattern) {
    std::string_view p = pattern;
    std::string prefix;
    if (p.size() >= 3 && names::ascii_lower(p.substr(0, 3)) == "mx:") {
        prefix = "mx:";
        p.remove_prefix(3);
    }
    if (p.starts_with("*.")) {
        prefix += "*.";
        p.remove_prefix(2);
    }
    auto bad = [&](const std::string& why) {
        return parsed<std::string>::failure(
            "pacing pattern " + quoted(pattern) + " " + why +
            " (use example.com, *.example.com, mx:mx.example.net or mx:*.example.net)");
    };
    if (p.empty()) return bad("names no domain");
    if (p.find('*') != std::string_view::npos) return bad("has '*' elsewhere than a leading '*.'");
    auto d = names::normalize_domain(p);
    if (!d) return bad("is not a domain pattern: " + d.error);
    return parsed<std::string>::success(prefix + d.value);
}

pacing_rule_row add_pacing_rule(config_db& db, const pacing_rule_row& in) {
    pacing_rule_row row = in;
    row.pattern = checked_pattern(in.pattern);
    check_limits(row);
    sql::transaction tx(db.handle(), true);
    if (find_pacing_rule(db.handle(), row.pattern))
        fail(kind::conflict, "pacing rule " + row.pattern +
                                 " already exists; change it with: carteroctl pacing update");
    stmt s(db.handle(), "INSERT INTO pacing_rules (pattern, max_connections, messages_per_minute,"
                        " messages_per_connection, note) VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, row.pattern);
    bind_opt(s, 2, row.max_connections);
    bind_opt(s, 3, row.messages_per_minute);
    bind_opt(s, 4, row.messages_per_connection);
    s.bind(5, row.note);
    s.run();
    tx.commit();
    return row;
}

pacing_rule_row update_pacing_rule(config_db& db, const pacing_rule_row& in,
                                   std::optional<std::string> note) {
    const std::string pattern = checked_pattern(in.pattern);
    sql::transaction tx(db.handle(), true);
    auto row = find_pacing_rule(db.handle(), pattern);
    if (!row)
        fail(kind::not_found, "pacing rule " + pattern + " does not exist; add it with: "
                                                         "carteroctl pacing add");
    if (in.max_connections) row->max_connections = in.max_connections;
    if (in.messages_per_minute) row->messages_per_minute = in.messages_per_minute;
    if (in.messages_per_connection) row->messages_per_connection = in.messages_per_connection;
    if (note) row->note = *note;
    check_limits(*row);
    stmt s(db.handle(), "UPDATE pacing_rules SET max_connections = ?2, messages_per_minute = ?3,"
                        " messages_per_connection = ?4, note = ?5 WHERE pattern = ?1");
    s.bind(1, pattern);
    bind_opt(s, 2, row->max_connections);
    bind_opt(s, 3, row->messages_per_minute);
    bind_opt(s, 4, row->messages_per_connection);
    s.bind(5, row->note);
    s.run();
    tx.commit();
    return *row;
}

void remove_pacing_rule(config_db& db, std::string_view pattern) {
    const std::string p = checked_pattern(pattern);
    stmt(db.handle(), "DELETE FROM pacing_rules WHERE pattern = ?1").bind(1, p).run();
    if (sqlite3_changes(db.handle()) == 0)
        fail(kind::not_found, "pacing rule " + p + " does not exist");
}

std::vector<pacing_rule_row> list_pacing_rules(config_db& db) {
    std::vector<pacing_rule_row> out;
    stmt s(db.handle(), "SELECT pattern FROM pacing_rules ORDER BY pattern");
    std::vector<std::string> patterns;
    while (s.step()) patterns.push_back(s.text(0));
    for (const auto& p : patterns)
        if (auto r = find_pacing_rule(db.handle(), p)) out.push_back(std::move(*r));
    return out;
}

} // namespace cartero::config
