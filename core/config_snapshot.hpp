// core/config_snapshot.hpp — an immutable, in-memory copy of what carterod needs from config.db.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace cartero::config {

struct filter_snapshot; // core/filter_snapshot.hpp: spam settings, rules, lists, DNSBL zones

// Keys are normalised: domains as lower-case IDNA A-labels, addresses as
// lower-case-local-part "@" A-label domain (see core/address_norm.hpp: normalize_address).
struct mailbox_entry {
    std::int64_t id = 0;
    std::string address;       // normalised
    std::string local;         // normalised local part
    std::string domain;        // A-label
    std::string password_hash; // "{CRYPT}$y$..." — the form Dovecot reads
    std::uint64_t quota_bytes = 0; // 0 = unlimited
    bool enabled = true;
};

struct snapshot {
    std::int64_t data_version = 0;                 // changes whenever config.db changed
    std::set<std::string> domains;                 // local domains
    std::map<std::string, mailbox_entry> mailboxes; // by address
    // Forwarders by source: "user@domain" or "@domain" for a domain's catch-all. Destinations
    // are normalised addresses, local or remote.
    std::map<std::string, std::vector<std::string>> forwarders;
    std::string postmaster; // settings table key 'postmaster'; "" = hold in the holding mailbox
    std::shared_ptr<const filter_snapshot> filters; // never null after load_snapshot
};

} // namespace cartero::config
