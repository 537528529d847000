// core/sending_store.hpp — config.db access for the sending identity: dedicated IPs, IP pools
// and the relayhost (transport route "*"), shared by carteroctl, the panel and the outbound engine.
#pragma once

#include "core/config_db.hpp"
#include "core/parsed.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::config {

// A canonical IP address: inet_pton + inet_ntop (IPv6 lower-case and compressed, RFC 5952).
struct ip_address {
    std::string text;
    int family = 4; // 4 or 6
};

// Parses an IPv4 dotted quad or an IPv6 address (no brackets, no zone, no prefix). The error
// says which family the input looked like: "10.0.0.300 is not an IPv4 address". Never throws.
parsed<ip_address> parse_ip(std::string_view input);

struct ip_pool_row {
    std::string name;
    std::int64_t ips = 0; // addresses in the pool
};

// One dedicated IP. `hostname` is its PTR name, and the EHLO name when sending from it.
// An empty `pool` means the address does not send; an mx_preference means its hostname is an
// MX target of every local domain, with that preference.
struct ip_row {
    std::string address; // canonical (parse_ip)
    int family = 4;
    std::string hostname; // normalised domain name (A-label, lower case)
    std::string pool;     // pool name, or empty
    std::optional<std::uint16_t> mx_preference;
};

// The relayhost: all outbound mail goes to next_hop:port instead of MX lookup.
struct relayhost_row {
    std::string next_hop; // a host name or an IP literal (IPv6 without brackets)
    std::uint16_t port = 25;
};

// Pools. Names: 1-63 of [a-z0-9_-] (upper case is folded). add_pool refuses an existing name
// (kind::conflict); remove_pool refuses while addresses are in the pool and says how many;
// routes of senders to a removed pool go with it (ON DELETE CASCADE). Sorted by name.
std::string add_pool(config_db& db, std::string_view name);
void remove_pool(config_db& db, std::string_view name);
std::vector<ip_pool_row> list_pools(config_db& db);

// IPs. add_ip normalises address and hostname, requires the pool (when named) to exist and the
// address to be new, and returns the row as stored. update_ip changes hostname, pool and MX
// preference of an existing address (matched after normalisation). remove_ip removes one.
// All throw config_error (invalid / not_found / conflict) with one line a person can act on.
// list_ips: IPv4 before IPv6, then by address text.
ip_row add_ip(config_db& db, const ip_row& row);
ip_row update_ip(config_db& db, const ip_row& row);
void remove_ip(config_db& db, std::string_view address);
std::vector<ip_row> list_ips(config_db& db);

// The relayhost (transport_routes destination "*"). set replaces any existing one; next_hop is
// a domain name or an IP address; port 1-65535. clear does nothing when none is set.
std::optional<relayhost_row> get_relayhost(config_db& db);
void set_relayhost(config_db& db, const relayhost_row& row);
void clear_relayhost(config_db& db);

} // namespace cartero::config
