// core/filter_store.cpp — spam settings, rules, allow/block lists and DNSBL zones in config.db
// (schema step 4), with validation before anything is written, and the read-side snapshot.
#include "core/filter_store.hpp"

#include "core/address_norm.hpp"
#include "core/daemon_settings.hpp"
#include "core/filter_snapshot.hpp"
#include "core/log.hpp"
#include "core/sql_stmt.hpp"

#include <re2/re2.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace cartero::config {
namespace {

using kind = config_error::kind;

[[noreturn]] void fail(kind k, const std::string& what) { throw config_error(k, what); }

using sql::stmt;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string norm_domain(std::string_view d, const char* what) {
    auto n = names::normalize_domain(d);
    if (!n) fail(kind::invalid, std::string(what) + " " + quoted(d) + ": " + n.error);
    return n.value;
}

std::int64_t domain_id(sqlite3* db, std::string_view domain) {
    const std::string d = norm_domain(domain, "domain");
    stmt s(db, "SELECT id FROM domains WHERE name = ?1");
    s.bind(1, d);
    if (!s.step())
        fail(kind::not_found, "domain " + d + " does not exist; add it with: carteroctl domain add " + d);
    return s.i64(0);
}

std::int64_t mailbox_id(sqlite3* db, std::string_view address) {
    auto a = names::normalize_address(address);
    if (!a) fail(kind::invalid, "mailbox " + quoted(address) + ": " + a.error);
    stmt s(db, "SELECT id FROM mailboxes WHERE address = ?1");
    s.bind(1, a.value);
    if (!s.step()) fail(kind::not_found, "mailbox " + a.value + " does not exist");
    return s.i64(0);
}

void check_threshold(const std::optional<double>& v, const char* name) {
    if (v && (!std::isfinite(*v) || *v < -1000 || *v > 1000))
        fail(kind::invalid, std::string(name) + " threshold must be a number from -1000 to 1000");
}

void check_action(const std::optional<std::string>& a, const char* name) {
    if (a && *a != "reject" && *a != "junk" && *a != "none")
        fail(kind::invalid, std::string(name) + " action " + quoted(*a) +
                                " is not one of: reject, junk, none");
}

spam_settings_row read_row(sqlite3* db, std::optional<std::int64_t> dom) {
    spam_settings_row r;
    stmt s(db, "SELECT enabled, tag_threshold, junk_threshold, reject_threshold,"
               " dmarc_reject_action, dmarc_quarantine_action FROM spam_settings"
               " WHERE ifnull(domain_id, 0) = ?1");
    s.bind(1, dom.value_or(0));
    if (!s.step()) return r;
    if (!s.is_null(0)) r.enabled = s.i64(0) != 0;
    r.tag_threshold = s.opt_dbl(1);
    r.junk_threshold = s.opt_dbl(2);
    r.reject_threshold = s.opt_dbl(3);
    r.dmarc_reject_action = s.opt_text(4);
    r.dmarc_quarantine_action = s.opt_text(5);
    return r;
}

spam_settings_effective overlay(spam_settings_effective e, const spam_settings_row& r) {
    if (r.enabled) e.enabled = *r.enabled;
    if (r.tag_threshold) e.tag_threshold = *r.tag_threshold;
    if (r.junk_threshold) e.junk_threshold = *r.junk_threshold;
    if (r.reject_threshold) e.reject_threshold = *r.reject_threshold;
    if (r.dmarc_reject_action) e.dmarc_reject_action = *r.dmarc_reject_action;
    if (r.dmarc_quarantine_action) e.dmarc_quarantine_action = *r.dmarc_quarantine_action;
    return e;
}

void check_order(const spam_settings_effective& e, const std::string& scope) {
    if (!(e.tag_threshold <= e.junk_threshold && e.junk_threshold <= e.reject_threshold))
        fail(kind::invalid, "thresholds for " + scope + " would be tag " +
                                std::to_string(e.tag_threshold) + ", junk " +
                                std::to_string(e.junk_threshold) + ", reject " +
                                std::to_string(e.reject_threshold) +
                                "; they must keep tag <= junk <= reject");
}

// RE2 as the daemon compiles rules: UTF-8, bounded memory, no logging of hostile patterns.
std::shared_ptr<const re2::RE2> compile(std::string_view pattern, std::string& error) {
    if (pattern.empty()) {
        error = "the pattern is empty";
        return nullptr;
    }
    if (pattern.size() > max_pattern_bytes) {
        error = "the pattern is " + std::to_string(pattern.size()) + " bytes; at most " +
                std::to_string(max_pattern_bytes) + " are allowed";
        return nullptr;
    }
    re2::RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(rule_max_mem);
    auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), o);
    if (!re->ok()) {
        error = "the pattern does not compile: " + re->error();
        if (re->error_code() == re2::RE2::ErrorPatternTooLarge ||
            re->error_code() == re2::RE2::ErrorRepeatSize) // nested counts beyond RE2's 1000
            error = "the pattern could explode: its compiled form is larger than " +
                    std::to_string(rule_max_mem) + " bytes allow";
        return nullptr;
    }
    if (re->ProgramSize() > max_program_size) {
        error = "the pattern could explode: its compiled program has " +
                std::to_string(re->ProgramSize()) + " instructions, at most " +
                std::to_string(max_program_size) + " are allowed (simplify repetitions)";
        return nullptr;
    }
    return re;
}

bool valid_rule_name(std::string_view n) {
    return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

bool valid_header_name(std::string_view n) {
    return !n.empty() && n.size() <= 76 && std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

void check_kind(const std::string& v, std::initializer_list<const char*> allowed, const char* what) {
    std::string list;
    for (const char* a : allowed) {
        if (v == a) return;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    fail(kind::invalid, std::string(what) + " " + quoted(v) + " is not one of: " + list);
}

// Fills entry_kind and normalises entry/owner; returns (domain_id, mailbox_id).
std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>>
checked_list_row(sqlite3* db, spam_list_row& r) {
    r.list = lower(r.list);
    r.direction = lower(r.direction);
    r.scope = lower(r.scope);
    check_kind(r.list, {"allow", "block"}, "list");
    check_kind(r.direction, {"sender", "recipient"}, "direction");
    check_kind(r.scope, {"global", "domain", "mailbox"}, "scope");
    if (r.entry.empty()) fail(kind::invalid, "the entry is empty");
    if (r.entry.front() == '@') {
        r.entry = "@" + norm_domain(r.entry.substr(1), "entry domain");
        r.entry_kind = "domain";
    } else if (r.entry.find('@') != std::string::npos) {
        auto a = names::normalize_address(r.entry);
        if (!a) fail(kind::invalid, "entry " + quoted(r.entry) + ": " + a.error);
        r.entry = a.value;
        r.entry_kind = "address";
    } else {
        auto c = parse_cidr(r.entry);
        if (!c)
            fail(kind::invalid, "entry " + quoted(r.entry) +
                                    " is neither an address, an @domain nor an IP/CIDR (" +
                                    c.error + ")");
        if (r.direction != "sender")
            fail(kind::invalid, "an IP or network entry is only allowed for senders (the "
                                "client's address); a recipient entry is an address or @domain");
        r.entry = c.value.to_string();
        if (r.entry.size() > 3 && r.entry.ends_with(c.value.ipv6 ? "/128" : "/32"))
            r.entry = r.entry.substr(0, r.entry.rfind('/'));
        r.entry_kind = "network";
    }
    std::pair<std::optional<std::int64_t>, std::optional<std::int64_t>> ids;
    if (r.scope == "global") {
        if (!r.owner.empty()) fail(kind::invalid, "a global entry has no domain or mailbox");
    } else if (r.scope == "domain") {
        ids.first = domain_id(db, r.owner);
        r.owner = norm_domain(r.owner, "domain");
    } else {
        ids.second = mailbox_id(db, r.owner);
        r.owner = names::normalize_address(r.owner).value;
    }
    return ids;
}

std::string norm_zone(std::string_view z) {
    std::string n = norm_domain(z, "zone");
    if (n.size() > 200) fail(kind::invalid, "zone " + n + " is longer than 200 octets");
    return n;
}

cidr checked_match(const std::string& m) {
    auto c = parse_cidr(m);
    if (!c) fail(kind::invalid, "--match: " + c.error);
    auto loop = parse_cidr("127.0.0.0/8").value;
    if (c.value.ipv6 || c.value.prefix < 8 || !loop.contains(std::span(c.value.bytes.data(), 4)))
        fail(kind::invalid, "--match " + quoted(m) +
                                " must be inside 127.0.0.0/8 (DNSBL answers are loopback addresses)");
    return c.value;
}

} // namespace

parsed<std::string> check_rule_pattern(std::string_view pattern) {
    std::string error;
    if (!compile(pattern, error)) return parsed<std::string>::failure(error);
    return parsed<std::string>::success(std::string(pattern));
}

spam_settings_row get_spam_settings(config_db& db, std::string_view domain) {
    std::optional<std::int64_t> dom;
    if (!domain.empty()) dom = domain_id(db.handle(), domain);
    auto r = read_row(db.handle(), dom);
    r.domain = domain.empty() ? "" : norm_domain(domain, "domain");
    return r;
}

spam_settings_effective effective_spam_settings(config_db& db, std::string_view domain) {
    spam_settings_effective e = overlay({}, read_row(db.handle(), std::nullopt));
    if (domain.empty()) return e;
    return overlay(e, read_row(db.handle(), domain_id(db.handle(), domain)));
}

void set_spam_settings(config_db& db, const spam_settings_row& row) {
    check_threshold(row.tag_threshold, "tag");
    check_threshold(row.junk_threshold, "junk");
    check_threshold(row.reject_threshold, "reject");
    check_action(row.dmarc_reject_action, "dmarc-reject");
    check_action(row.dmarc_quarantine_action, "dmarc-quarantine");
    sqlite3* h = db.handle();
    sql::transaction tx(h, true);
    std::optional<std::int64_t> dom;
    if (!row.domain.empty()) dom = domain_id(h, row.domain);
    if (dom) {
        check_order(overlay(overlay({}, read_row(h, std::nullopt)), row), row.domain);
    } else {
        const auto global = overlay({}, row);
        check_order(global, "the global settings");
        stmt s(h, "SELECT d.name, d.id FROM spam_settings s JOIN domains d ON d.id = s.domain_id");
        while (s.step())
            check_order(overlay(global, read_row(h, s.i64(1))), "domain " + s.text(0));
    }
    stmt(h, "DELETE FROM spam_settings WHERE ifnull(domain_id, 0) = ?1").bind(1, dom.value_or(0)).run();
    stmt ins(h, "INSERT INTO spam_settings (domain_id, enabled, tag_threshold, junk_threshold,"
                " reject_threshold, dmarc_reject_action, dmarc_quarantine_action)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    ins.bind(1, dom).bind(2, row.enabled).bind(3, row.tag_threshold).bind(4, row.junk_threshold);
    ins.bind(5, row.reject_threshold).bind(6, row.dmarc_reject_action);
    ins.bind(7, row.dmarc_quarantine_action).run();
    tx.commit();
}

std::vector<spam_settings_row> list_spam_settings(config_db& db) {
    std::vector<spam_settings_row> out;
    out.push_back(read_row(db.handle(), std::nullopt));
    stmt s(db.handle(), "SELECT d.name, d.id FROM spam_settings s JOIN domains d"
                        " ON d.id = s.domain_id ORDER BY d.name");
    while (s.step()) {
        auto r = read_row(db.handle(), s.i64(1));
        r.domain = s.text(0);
        out.push_back(std::move(r));
    }
    return out;
}

spam_rule_row add_spam_rule(config_db& db, spam_rule_row row) {
    if (!valid_rule_name(row.name))
        fail(kind::invalid, "rule name " + quoted(row.name) +
                                " is not 1-64 letters, digits, '_', '.' or '-'");
    row.target = lower(row.target);
    check_kind(row.target, {"header", "body"}, "target");
    row.header_name = lower(row.header_name);
    if (row.target == "header" && !valid_header_name(row.header_name))
        fail(kind::invalid, "a header rule needs a field name (letters, digits, '-'), e.g. subject");
    if (row.target == "body") row.header_name.clear();
    if (!std::isfinite(row.score) || row.score < -100 || row.score > 100)
        fail(kind::invalid, "the score must be a number from -100 to 100");
    if (row.description.size() > 200 ||
        std::any_of(row.description.begin(), row.description.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        fail(kind::invalid, "the description must be one line of at most 200 bytes");
    std::string error;
    if (!compile(row.pattern, error))
        fail(kind::invalid, "rule " + row.name + " refused: " + error);
    sqlite3* h = db.handle();
    sql::transaction tx(h, true);
    {
        stmt s(h, "SELECT 1 FROM spam_rules WHERE name = ?1");
        s.bind(1, row.name);
        if (s.step()) fail(kind::conflict, "a rule named " + row.name + " already exists");
    }
    stmt ins(h, "INSERT INTO spam_rules (name, target, header_name, pattern, score, description,"
                " enabled) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    ins.bind(1, row.name).bind(2, row.target);
    ins.bind(3, row.target == "header" ? std::optional<std::string>(row.header_name) : std::nullopt);
    ins.bind(4, row.pattern).bind(5, row.score).bind(6, row.description);
    ins.bind(7, std::int64_t(row.enabled ? 1 : 0)).run();
    tx.commit();
    return row;
}

void remove_spam_rule(config_db& db, std::string_view name) {
    stmt s(db.handle(), "DELETE FROM spam_rules WHERE name = ?1");
    s.bind(1, name).run();
    if (sqlite3_changes(db.handle()) == 0)
        fail(kind::not_found, "no rule named " + quoted(name) + " (see: carteroctl spam rule list)");
}

std::vector<spam_rule_row> list_spam_rules(config_db& db) {
    std::vector<spam_rule_row> out;
    stmt s(db.handle(), "SELECT name, target, ifnull(header_name, ''), pattern, score,"
                        " description, enabled FROM spam_rules ORDER BY name");
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.dbl(4), s.text(5),
                       s.i64(6) != 0});
    return out;
}

spam_list_row add_spam_list_entry(config_db& db, spam_list_row row) {
    sqlite3* h = db.handle();
    sql::transaction tx(h, true);
    auto [dom, mbox] = checked_list_row(h, row);
    {
        stmt s(h, "SELECT 1 FROM spam_lists WHERE list = ?1 AND direction = ?2 AND scope = ?3"
                  " AND ifnull(domain_id, 0) = ?4 AND ifnull(mailbox_id, 0) = ?5 AND entry = ?6");
        s.bind(1, row.list).bind(2, row.direction).bind(3, row.scope).bind(4, dom.value_or(0));
        s.bind(5, mbox.value_or(0)).bind(6, row.entry);
        if (s.step())
            fail(kind::conflict, row.entry + " is already on that " + row.list + " list");
    }
    stmt ins(h, "INSERT INTO spam_lists (list, direction, scope, domain_id, mailbox_id, entry,"
                " entry_kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    ins.bind(1, row.list).bind(2, row.direction).bind(3, row.scope).bind(4, dom).bind(5, mbox);
    ins.bind(6, row.entry).bind(7, row.entry_kind).run();
    tx.commit();
    return row;
}

void remove_spam_list_entry(config_db& db, spam_list_row row) {
    sqlite3* h = db.handle();
    sql::transaction tx(h, true);
    auto [dom, mbox] = checked_list_row(h, row);
    stmt s(h, "DELETE FROM spam_lists WHERE list = ?1 AND direction = ?2 AND scope = ?3"
              " AND ifnull(domain_id, 0) = ?4 AND ifnull(mailbox_id, 0) = ?5 AND entry = ?6");
    s.bind(1, row.list).bind(2, row.direction).bind(3, row.scope).bind(4, dom.value_or(0));
    s.bind(5, mbox.value_or(0)).bind(6, row.entry).run();
    if (sqlite3_changes(h) == 0)
        fail(kind::not_found, row.entry + " is not on that " + row.list + " list");
    tx.commit();
}

namespace {
const char* list_select =
    "SELECT l.list, l.direction, l.scope, coalesce(d.name, m.address, ''), l.entry, l.entry_kind"
    " FROM spam_lists l LEFT JOIN domains d ON d.id = l.domain_id"
    " LEFT JOIN mailboxes m ON m.id = l.mailbox_id";
}

std::vector<spam_list_row> list_spam_list_entries(config_db& db, std::string_view list,
                                                  std::string_view direction) {
    std::vector<spam_list_row> out;
    stmt s(db.handle(), std::string(list_select) +
                            " WHERE (?1 = '' OR l.list = ?1) AND (?2 = '' OR l.direction = ?2)"
                            " ORDER BY 1, 2, 3, 4, 5");
    s.bind(1, lower(list)).bind(2, lower(direction));
    while (s.step())
        out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    return out;
}

dnsbl_zone_row add_dnsbl_zone(config_db& db, dnsbl_zone_row row) {
    row.zone = norm_zone(row.zone);
    row.list = lower(row.list);
    check_kind(row.list, {"block", "allow"}, "list");
    if (!std::isfinite(row.weight) || row.weight == 0 || row.weight < -100 || row.weight > 100)
        fail(kind::invalid, "the weight must be a non-zero number from -100 to 100");
    if ((row.list == "block") != (row.weight > 0))
        fail(kind::invalid, row.list == "block"
                                ? "a block list (DNSBL) adds to the score: give a positive weight"
                                : "an allow list (DNSWL) lowers the score: give a negative weight");
    row.match = checked_match(row.match).to_string();
    sqlite3* h = db.handle();
    sql::transaction tx(h, true);
    {
        stmt s(h, "SELECT 1 FROM dnsbl_zones WHERE zone = ?1");
        s.bind(1, row.zone);
        if (s.step()) fail(kind::conflict, "zone " + row.zone + " is already configured");
    }
    stmt ins(h, "INSERT INTO dnsbl_zones (zone, list, weight, match, enabled)"
                " VALUES (?1, ?2, ?3, ?4, ?5)");
    ins.bind(1, row.zone).bind(2, row.list).bind(3, row.weight).bind(4, row.match);
    ins.bind(5, std::int64_t(row.enabled ? 1 : 0)).run();
    tx.commit();
    return row;
}

void remove_dnsbl_zone(config_db& db, std::string_view zone) {
    const std::string z = norm_zone(zone);
    stmt(db.handle(), "DELETE FROM dnsbl_zones WHERE zone = ?1").bind(1, z).run();
    if (sqlite3_changes(db.handle()) == 0)
        fail(kind::not_found, "zone " + z + " is not configured (see: carteroctl spam dnsbl list)");
}

std::vector<dnsbl_zone_row> list_dnsbl_zones(config_db& db) {
    std::vector<dnsbl_zone_row> out;
    stmt s(db.handle(), "SELECT zone, list, weight, match, enabled FROM dnsbl_zones ORDER BY zone");
    while (s.step()) out.push_back({s.text(0), s.text(1), s.dbl(2), s.text(3), s.i64(4) != 0});
    return out;
}

std::shared_ptr<const filter_snapshot> load_filter_snapshot(sqlite3* db) {
    auto snap = std::make_shared<filter_snapshot>();
    snap->global = overlay({}, read_row(db, std::nullopt));
    {
        stmt s(db, "SELECT d.name, s.domain_id FROM spam_settings s JOIN domains d"
                   " ON d.id = s.domain_id");
        while (s.step()) snap->domains[s.text(0)] = overlay(snap->global, read_row(db, s.i64(1)));
    }
    {
        stmt s(db, "SELECT name, target, ifnull(header_name, ''), pattern, score, description"
                   " FROM spam_rules WHERE enabled = 1 ORDER BY name");
        while (s.step()) {
            filter_snapshot::rule r;
            r.row = {s.text(0), s.text(1), s.text(2), s.text(3), s.dbl(4), s.text(5), true};
            std::string error;
            r.re = compile(r.row.pattern, error);
            if (!r.re) {
                snap->problems.push_back("rule " + r.row.name + " skipped: " + error);
                continue;
            }
            snap->rules.push_back(std::move(r));
        }
    }
    {
        stmt s(db, list_select);
        while (s.step()) {
            filter_snapshot::list_entry e;
            e.row = {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)};
            if (e.row.entry_kind == "network") {
                auto c = parse_cidr(e.row.entry);
                if (!c) {
                    snap->problems.push_back("list entry " + e.row.entry + " skipped: " + c.error);
                    continue;
                }
                e.net = c.value;
            }
            snap->lists.push_back(std::move(e));
        }
    }
    {
        stmt s(db, "SELECT zone, list, weight, match FROM dnsbl_zones WHERE enabled = 1"
                   " ORDER BY zone");
        while (s.step()) {
            filter_snapshot::zone z;
            z.row = {s.text(0), s.text(1), s.dbl(2), s.text(3), true};
            auto c = parse_cidr(z.row.match);
            if (!c) {
                snap->problems.push_back("zone " + z.row.zone + " skipped: " + c.error);
                continue;
            }
            z.match = c.value;
            snap->zones.push_back(std::move(z));
        }
    }
    // A row another writer stored that carterod cannot use (e.g. a regex written straight into
    // config.db) is skipped; say so on every load, or the admin never learns why it is ignored.
    for (const auto& p : snap->problems) log::warn("spam_filter_row_skipped", {{"problem", p}});
    return snap;
}

} // namespace cartero::config
