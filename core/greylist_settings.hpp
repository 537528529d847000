// core/greylist_settings.hpp — config.db access for greylisting (schema step 5): per-domain
// settings and the global whitelist, shared by carteroctl, the panel and carterod's RCPT check.
#pragma once

#include "core/config_db.hpp"
#include "core/daemon_settings.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::config {

struct greylist_domain_row {
    std::string domain;             // A-label of a local domain
    bool enabled = true;
    int delay_seconds = 300;        // 1–86400: a new triplet waits this long
    int retry_window_seconds = 172800; // 60–2592000, > delay: a later first retry starts over
    int expiry_days = 35;           // 1–365: passed triplets / auto-whitelisted networks
};

// "" when valid, else what is wrong (bounds above).
std::string validate_greylist_domain(const greylist_domain_row& row);

// Creates or replaces the domain's settings (the domain must exist: not_found). Returns the row
// as stored. disable keeps the numbers (enabled = 0); not_found when the domain has no row.
greylist_domain_row set_greylist_domain(config_db& db, const greylist_domain_row& row);
void disable_greylist_domain(config_db& db, std::string_view domain);
std::vector<greylist_domain_row> list_greylist_domains(config_db& db); // by domain name

// Whitelist entries: kind "network" (an IP or CIDR, stored as parse_cidr prints it) or
// "sender_domain" (a domain: the envelope sender's domain or a parent of it).
struct greylist_whitelist_row {
    std::string kind;
    std::string value;
    std::string note;
};

// `entry` is classified: anything parse_cidr takes is a network, else a domain name. Throws
// config_error: invalid (neither), conflict (already listed). Returns the row as stored.
greylist_whitelist_row add_greylist_whitelist(config_db& db, std::string_view entry,
                                              std::string_view note = {});
void remove_greylist_whitelist(config_db& db, std::string_view entry); // not_found if absent
std::vector<greylist_whitelist_row> list_greylist_whitelist(config_db& db);

// What carterod's greylist check needs, read in one transaction.
struct greylist_config {
    std::map<std::string, greylist_domain_row> domains; // enabled ones only, by domain
    std::vector<cidr> networks;
    std::set<std::string> sender_domains;
};
greylist_config load_greylist_config(config_db& db);

} // namespace cartero::config
