// core/greylist_settings.cpp — greylisting settings in config.db (greylist_domains,
// greylist_whitelist).
#include "core/greylist_settings.hpp"

#include "core/address_norm.hpp"
#include "core/sql_stmt.hpp"

namespace cartero::config {
namespace {

using kind = config_error::kind;
using sql::stmt;

std::string norm_domain(std::string_view name) {
    auto d = names::normalize_domain(name);
    if (!d) throw config_error(kind::invalid, d.error);
    return d.value;
}

// (kind, value) of a whitelist entry as typed.
std::pair<std::string, std::string> classify(std::string_view entry) {
    if (auto c = parse_cidr(entry)) return {"network", c.value.to_string()};
    // Something with a '/' or ':' was meant as a network: say why parse_cidr refused it.
    if (entry.find_first_of("/:") != std::string_view::npos)
        throw config_error(kind::invalid, parse_cidr(entry).error);
    auto d = names::normalize_domain(entry);
    if (!d)
        throw config_error(kind::invalid, quoted(entry) +
                                              " is neither an IP network (192.0.2.0/24, "
                                              "2001:db8::/48) nor a sender domain: " + d.error);
    return {"sender_domain", d.value};
}

} // namespace

std::string validate_greylist_domain(const greylist_domain_row& r) {
    if (r.delay_seconds < 1 || r.delay_seconds > 86400)
        return "the delay must be 1 to 86400 seconds";
    if (r.retry_window_seconds < 60 || r.retry_window_seconds > 2592000)
        return "the retry window must be 60 to 2592000 seconds (30 days)";
    if (r.retry_window_seconds <= r.delay_seconds)
        return "the retry window must be longer than the delay";
    if (r.expiry_days < 1 || r.expiry_days > 365) return "the expiry must be 1 to 365 days";
    return {};
}

greylist_domain_row set_greylist_domain(config_db& db, const greylist_domain_row& in) {
    greylist_domain_row r = in;
    r.domain = norm_domain(in.domain);
    if (auto why = validate_greylist_domain(r); !why.empty())
        throw config_error(kind::invalid, "greylisting for " + r.domain + ": " + why);
    sql::transaction tx(db.handle(), true);
    std::int64_t id = 0;
    {
        stmt s(db.handle(), "SELECT id FROM domains WHERE name = ?1");
        s.bind(1, r.domain);
        if (!s.step())
            throw config_error(kind::not_found, "domain " + r.domain +
                                                    " does not exist; add it with: carteroctl "
                                                    "domain add " + r.domain);
        id = s.i64(0);
    }
    stmt s(db.handle(),
           "INSERT INTO greylist_domains (domain_id, enabled, delay_seconds, "
           "retry_window_seconds, expiry_days) VALUES (?1, ?2, ?3, ?4, ?5) "
           "ON CONFLICT (domain_id) DO UPDATE SET enabled = excluded.enabled, "
           "delay_seconds = excluded.delay_seconds, "
           "retry_window_seconds = excluded.retry_window_seconds, "
           "expiry_days = excluded.expiry_days");
    s.bind(1, id).bind(2, std::int64_t{r.enabled ? 1 : 0}).bind(3, std::int64_t{r.delay_seconds});
    s.bind(4, std::int64_t{r.retry_window_seconds}).bind(5, std::int64_t{r.expiry_days}).run();
    tx.commit();
    return r;
}

void disable_greylist_domain(config_db& db, std::string_view domain) {
    const std::string d = norm_domain(domain);
    stmt s(db.handle(), "UPDATE greylist_domains SET enabled = 0 WHERE domain_id = "
                        "(SELECT id FROM domains WHERE name = ?1)");
    s.bind(1, d).run();
    if (sqlite3_changes(db.handle()) == 0)
        throw config_error(kind::not_found, "greylisting is not set up for " + d);
}

std::vector<greylist_domain_row> list_greylist_domains(config_db& db) {
    stmt s(db.handle(), "SELECT d.name, g.enabled, g.delay_seconds, g.retry_window_seconds, "
                        "g.expiry_days FROM greylist_domains g JOIN domains d ON d.id = g.domain_id "
                        "ORDER BY d.name");
    std::vector<greylist_domain_row> out;
    while (s.step())
        out.push_back({s.text(0), s.i64(1) != 0, static_cast<int>(s.i64(2)),
                       static_cast<int>(s.i64(3)), static_cast<int>(s.i64(4))});
    return out;
}

greylist_whitelist_row add_greylist_whitelist(config_db& db, std::string_view entry,
                                              std::string_view note) {
    auto [k, v] = classify(entry);
    if (note.size() > 200) throw config_error(kind::invalid, "the note is longer than 200 bytes");
    sql::transaction tx(db.handle(), true);
    {
        stmt s(db.handle(), "SELECT 1 FROM greylist_whitelist WHERE kind = ?1 AND value = ?2");
        s.bind(1, k).bind(2, v);
        if (s.step()) throw config_error(kind::conflict, v + " is already on the greylisting whitelist");
    }
    stmt(db.handle(), "INSERT INTO greylist_whitelist (kind, value, note) VALUES (?1, ?2, ?3)")
        .bind(1, k).bind(2, v).bind(3, note).run();
    tx.commit();
    return {k, v, std::string(note)};
}

void remove_greylist_whitelist(config_db& db, std::string_view entry) {
    auto [k, v] = classify(entry);
    stmt(db.handle(), "DELETE FROM greylist_whitelist WHERE kind = ?1 AND value = ?2")
        .bind(1, k).bind(2, v).run();
    if (sqlite3_changes(db.handle()) == 0)
        throw config_error(kind::not_found, v + " is not on the greylisting whitelist");
}

std::vector<greylist_whitelist_row> list_greylist_whitelist(config_db& db) {
    stmt s(db.handle(), "SELECT kind, value, note FROM greylist_whitelist ORDER BY kind, value");
    std::vector<greylist_whitelist_row> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2)});
    return out;
}

greylist_config load_greylist_config(config_db& db) {
    sql::transaction tx(db.handle(), false);
    greylist_config c;
    for (auto& r : list_greylist_domains(db))
        if (r.enabled) c.domains.emplace(r.domain, r);
    for (auto& w : list_greylist_whitelist(db)) {
        if (w.kind == "network") {
            if (auto n = parse_cidr(w.value)) c.networks.push_back(n.value);
        } else {
            c.sender_domains.insert(w.value);
        }
    }
    tx.commit();
    return c;
}

} // namespace cartero::config
