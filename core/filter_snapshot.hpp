// core/filter_snapshot.hpp — the spam-filter part of carterod's config snapshot: settings with
// inheritance resolved, compiled rules, list entries and DNSBL zones, loaded with the rest of
// config.db in one read transaction (config_db::load_snapshot) and reloaded with it.
#pragma once

#include "core/daemon_settings.hpp"
#include "core/filter_store.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace re2 {
class RE2;
}

namespace cartero::config {

struct filter_snapshot {
    spam_settings_effective global;
    std::map<std::string, spam_settings_effective> domains; // only domains with a stored row

    struct rule {
        spam_rule_row row;
        std::shared_ptr<const re2::RE2> re; // compiled once; RE2 matching is thread-safe
    };
    std::vector<rule> rules; // enabled ones only

    struct list_entry {
        spam_list_row row;
        std::optional<cidr> net; // entry_kind "network"
    };
    std::vector<list_entry> lists;

    struct zone {
        dnsbl_zone_row row;
        cidr match;
    };
    std::vector<zone> zones; // enabled ones only

    // Rows another writer stored that carterod cannot use (a pattern RE2 refuses): skipped,
    // named here so carterod can log them.
    std::vector<std::string> problems;

    const spam_settings_effective& settings_for(const std::string& domain) const {
        auto it = domains.find(domain);
        return it == domains.end() ? global : it->second;
    }
};

} // namespace cartero::config
