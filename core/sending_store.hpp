// core/sending_store.hpp — config.db access for the sending identity: dedicated IPs, IP pools,
// sender → pool routes, transport routes (next hops; "*" = the relayhost) and pacing rules,
// shared by carteroctl, the panel and the outbound engine.
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

// Sender routes: which pool a sender uses. `sender` is an address ("user@domain") or a domain
// ("domain"), normalised (lower case, IDNA A-label); the pool must exist. add refuses an existing
// sender (conflict: remove it first); remove refuses an unknown one (not_found). Sorted by sender.
struct sender_route_row {
    std::string sender;
    std::string pool;
};
sender_route_row add_sender_route(config_db& db, std::string_view sender, std::string_view pool);
void remove_sender_route(config_db& db, std::string_view sender);
std::vector<sender_route_row> list_sender_routes(config_db& db);

// Transport routes: mail for `destination` (a recipient domain, or "*" for everything else: the
// relayhost) goes to next_hop:port instead of the MX hosts. require_tls: no delivery without
// STARTTLS. With auth_username, the password lives in auth_secret_path, a 0600 file
// <state_dir>/secrets/transport-<destination>.secret ("relayhost" for "*"), never in config.db.
struct transport_route_row {
    std::string destination; // "*" or a domain (A-label)
    std::string next_hop;    // a host name or an IP address (IPv6 without brackets)
    std::uint16_t port = 25;
    bool require_tls = false;
    std::string auth_username;    // "" = no AUTH
    std::string auth_secret_path; // set with auth_username
};
// Validates the row, writes the secret file (when `password` is given; auth_username and
// password go together) and inserts the row, all or nothing: on any error no file and no row
// are left. Refuses an existing destination (conflict: remove it first). carterod sends AUTH
// only over TLS, so it treats a route with AUTH as require_tls.
transport_route_row add_transport_route(config_db& db, const std::string& state_dir,
                                        const transport_route_row& row,
                                        std::string_view password = {});
// Removes the row, then its secret file (one already gone is fine). not_found when none.
void remove_transport_route(config_db& db, std::string_view destination);
// "*" first, then by destination.
std::vector<transport_route_row> list_transport_routes(config_db& db);
// The password of a route with AUTH: the secret file's first line. storage error naming the
// file when it cannot be read.
std::string read_transport_secret(const transport_route_row& row);

// Pacing rules (daemon/outbound/pacing.hpp applies them). Pattern syntax: "example.com" (that
// domain), "*.example.com" (the domain and its subdomains), "mx:mx1.example.net" or
// "mx:*.example.net" (matched against the MX host); lower-cased and IDNA-normalised. Limits are
// optional (unset = the shipped rule's or the default) but at least one is required, each
// within its bounds: max_connections 1-1000, messages_per_minute 1-1000000,
// messages_per_connection 1-100000. add refuses an existing pattern (conflict); update changes
// the limits and note given (unset fields keep their value); remove refuses an unknown pattern.
struct pacing_rule_row {
    std::string pattern;
    std::optional<std::int64_t> max_connections, messages_per_minute, messages_per_connection;
    std::string note;
};
// The pattern in canonical form, or why it is not one. Never throws.
parsed<std::string> normalize_pacing_pattern(std::string_view pattern);
pacing_rule_row add_pacing_rule(config_db& db, const pacing_rule_row& row);
// `note`: nullopt keeps the stored note.
pacing_rule_row update_pacing_rule(config_db& db, const pacing_rule_row& row,
                                   std::optional<std::string> note = std::nullopt);
void remove_pacing_rule(config_db& db, std::string_view pattern);
std::vector<pacing_rule_row> list_pacing_rules(config_db& db);

} // namespace cartero::config
