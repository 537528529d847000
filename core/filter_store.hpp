// core/filter_store.hpp — config.db access for spam filtering (schema step 4): settings (global
// and per domain), header/body rules, allow/block lists, DNSBL/DNSWL zones; shared by
// carteroctl, the panel and carterod's read-side snapshot (core/filter_snapshot.hpp).
#pragma once

#include "core/config_db.hpp"
#include "core/parsed.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace cartero::config {

// Built-in defaults (daemon/policy/README.md explains the numbers).
inline constexpr double default_tag_threshold = 5.0;
inline constexpr double default_junk_threshold = 6.0;
inline constexpr double default_reject_threshold = 15.0;
inline constexpr std::string_view default_dmarc_reject_action = "reject";
inline constexpr std::string_view default_dmarc_quarantine_action = "junk";
// Bounds on rule patterns: bytes of pattern text, RE2 memory, and compiled program size.
inline constexpr std::size_t max_pattern_bytes = 1024;
inline constexpr long long rule_max_mem = 1 << 20; // bytes RE2 may use per rule
inline constexpr int max_program_size = 4000;      // RE2::ProgramSize()

// One scope's stored settings; nullopt = inherit (a domain from the global row, the global row
// from the built-in defaults). Actions: "reject", "junk" or "none" (only the score counts).
struct spam_settings_row {
    std::string domain; // "" = the global row
    std::optional<bool> enabled;
    std::optional<double> tag_threshold, junk_threshold, reject_threshold;
    std::optional<std::string> dmarc_reject_action, dmarc_quarantine_action;
};

// Settings with inheritance resolved.
struct spam_settings_effective {
    bool enabled = true;
    double tag_threshold = default_tag_threshold;
    double junk_threshold = default_junk_threshold;
    double reject_threshold = default_reject_threshold;
    std::string dmarc_reject_action{default_dmarc_reject_action};
    std::string dmarc_quarantine_action{default_dmarc_quarantine_action};
};

// "" = the global row. A domain must exist (not_found). get returns an all-nullopt row when
// nothing is stored. set replaces the scope's row; the effective thresholds of that scope (and,
// for the global row, of every domain) must keep tag <= junk <= reject, else invalid.
spam_settings_row get_spam_settings(config_db& db, std::string_view domain);
void set_spam_settings(config_db& db, const spam_settings_row& row);
spam_settings_effective effective_spam_settings(config_db& db, std::string_view domain);
std::vector<spam_settings_row> list_spam_settings(config_db& db); // global first, then domains

// A rule: RE2 `pattern` on the unfolded value of the header field `header_name` (target
// "header"; RFC 2047 words decoded) or on the decoded text parts (target "body"). A match
// adds `score` (-100..100) once per message.
struct spam_rule_row {
    std::string name; // 1-64 of [A-Za-z0-9_.-], unique
    std::string target; // "header" or "body"
    std::string header_name; // lower-cased field name for "header", "" for "body"
    std::string pattern;
    double score = 0;
    std::string description;
    bool enabled = true;
};

// Compiles `pattern` as the daemon will (RE2, UTF-8, max_mem rule_max_mem) and refuses one
// that does not compile, is longer than max_pattern_bytes, or whose program is larger than
// max_program_size ("could explode"). The error says which. Never throws.
parsed<std::string> check_rule_pattern(std::string_view pattern);

// add refuses a duplicate name (conflict) and anything check_rule_pattern refuses (invalid);
// nothing is stored then. remove: not_found when absent. list: by name.
spam_rule_row add_spam_rule(config_db& db, spam_rule_row row);
void remove_spam_rule(config_db& db, std::string_view name);
std::vector<spam_rule_row> list_spam_rules(config_db& db);

// A list entry. list "allow" or "block"; direction "sender" (entry: address, "@domain" or an
// IP/CIDR of the client) or "recipient" (address or "@domain"); scope "global" (owner ""),
// "domain" (owner: a local domain) or "mailbox" (owner: a mailbox address).
struct spam_list_row {
    std::string list, direction, scope, owner, entry;
    std::string entry_kind; // filled by the store: "address", "domain" or "network"
};

// Normalises entry and owner (IDNA, lower case, canonical CIDR) and fills entry_kind.
spam_list_row add_spam_list_entry(config_db& db, spam_list_row row);
void remove_spam_list_entry(config_db& db, spam_list_row row);
// Filters: empty = any. Sorted by list, direction, scope, owner, entry.
std::vector<spam_list_row> list_spam_list_entries(config_db& db, std::string_view list = {},
                                                  std::string_view direction = {});

// A DNSBL ("block", weight > 0) or DNSWL ("allow", weight < 0) zone. `match`: the answers that
// count, a CIDR inside 127.0.0.0/8 (default the whole of it).
struct dnsbl_zone_row {
    std::string zone;
    std::string list = "block";
    double weight = 3.0;
    std::string match = "127.0.0.0/8";
    bool enabled = true;
};
dnsbl_zone_row add_dnsbl_zone(config_db& db, dnsbl_zone_row row);
void remove_dnsbl_zone(config_db& db, std::string_view zone);
std::vector<dnsbl_zone_row> list_dnsbl_zones(config_db& db);

// carterod's read side (core/filter_snapshot.hpp): reads the step-4 tables on `db`; the caller
// (config_db::load_snapshot) holds the read transaction. Throws config_error (storage).
struct filter_snapshot;
std::shared_ptr<const filter_snapshot> load_filter_snapshot(sqlite3* db);

} // namespace cartero::config
