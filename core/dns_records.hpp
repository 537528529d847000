// core/dns_records.hpp — the DNS records a Cartero domain needs (MX, A/AAAA, SPF, DKIM, DMARC,
// MTA-STS, TLS-RPT, SRV, PTR), generated from config.db, and their zone/JSON/CSV renderings.
// carteroctl (provision, dns records, dns check) and the panel's DNS page share this code.
#pragma once

#include "core/config_db.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::dns {

// One expected record. Names are FQDNs without the trailing dot; values are in presentation
// format with FQDN targets ending in a dot ("10 mx1.example.com.", "0 1 587 mx1.example.com.");
// a TXT value is the whole text, unquoted and unsplit (render_zone splits it).
struct dns_record {
    std::string name;
    std::string type; // "MX", "A", "AAAA", "TXT", "CNAME", "SRV", "PTR"
    std::uint32_t ttl = 3600;
    std::string value;
    bool required = true; // false: recommended; `dns check` reports it but does not fail on it
    std::string purpose;  // one line for people ("SPF: the IPs allowed to send for the domain")
};

// One dedicated IP as generation sees it (config::ip_row without the pool's name).
struct host_ip {
    std::string address; // canonical text
    int family = 4;
    std::string hostname; // PTR and EHLO name
    bool outbound = false;
    std::optional<std::uint16_t> mx_preference; // set = hostname is an MX target
};

struct dkim_selector {
    std::string selector;
    std::string algorithm;  // as in config.db: "rsa-sha256" or "ed25519-sha256"
    std::string public_key; // base64, the p= value
};

// Everything generation needs for one zone. load_zone_inputs() fills it from config.db; tests
// build it by hand. generate_records() is pure.
struct zone_inputs {
    std::string domain;                     // the zone's domain (A-label)
    std::vector<std::string> local_domains; // every local domain: a host name's own records go
                                            // into the zone of its longest matching domain
    std::vector<host_ip> ips;
    std::string relayhost;            // next hop of the "*" transport route; empty = none
    std::vector<dkim_selector> dkim;  // active keys of `domain`
    std::string dmarc_policy = "none"; // none | quarantine | reject
    std::string dmarc_rua;            // aggregate-report address; empty = no rua= tag
    std::string tlsrpt_rua;           // TLS-RPT report address; empty = no TLS-RPT record
    std::string mta_sts_mode = "testing"; // testing | enforce; "none" = publish no MTA-STS
    std::uint32_t ttl = 3600;
};

// Settings keys in config.db that generation reads (see config_db::known_settings()).
// Defaults: dmarc_policy "none", dmarc_rua = postmaster setting, tlsrpt_rua = dmarc_rua,
// mta_sts_mode "testing" (DESIGN.md: until the MX has a CA-issued certificate).
zone_inputs load_zone_inputs(config::config_db& db, std::string_view domain);

// The records for inputs.domain, in a fixed order: MX (or null MX), SPF, DKIM, DMARC, MTA-STS,
// TLS-RPT, SRV, then per host name in this zone: A/AAAA, HELO SPF, null MX if it takes no mail.
std::vector<dns_record> generate_records(const zone_inputs& in);

// load_zone_inputs + generate_records. Throws config::config_error (not_found) when `domain`
// is not a local domain.
std::vector<dns_record> expected_records(config::config_db& db, std::string_view domain);

// PTR records the IPs' owners must publish: name = dns::reverse_name(address), value = "host." —
// one per IP in config.db.
std::vector<dns_record> expected_ptr_records(config::config_db& db);
std::vector<dns_record> ptr_records(const std::vector<host_ip>& ips, std::uint32_t ttl = 3600);

// Building blocks (exposed for the panel and for tests).

// RFC 7208 §5: "v=spf1 ip4:a ip6:b [ip4:relay | a:relay] -all" with every outbound address in
// the order given; a relayhost that is an IP literal is an ip4:/ip6: term, a name an a: term.
std::string spf_value(const std::vector<host_ip>& ips, std::string_view relayhost);
// RFC 7489 §6.3: "v=DMARC1; p=POLICY[; rua=mailto:ADDR]; adkim=r; aspf=r".
std::string dmarc_value(std::string_view policy, std::string_view rua);
// RFC 8461 §3.2 policy file text (CRLF lines): version, mode, one mx: line per host, max_age.
std::string mta_sts_policy(std::string_view mode, const std::vector<std::string>& mx_hosts,
                           std::uint32_t max_age = 86400);
// RFC 8461 §3.1 id: 32 hex digits of SHA-256 over the policy text; changes when it changes.
std::string mta_sts_id(std::string_view policy_text);
// The policy text for inputs.domain's MX hosts (empty when it has none or mode is "none").
std::string mta_sts_policy_for(const zone_inputs& in);

// RFC 1035 §3.3.14: a TXT value as character-strings of at most 255 octets each.
std::vector<std::string> split_txt(std::string_view value);

// Renderings. render_zone: "$ORIGIN domain." and "$TTL" lines, one record per line with names
// relative to the origin ("@" for the apex) and TXT split into quoted strings; no SOA or NS
// (the registrar owns those). JSON: an array of {name, type, ttl, value, required, purpose}
// (plus "strings" for TXT); CSV (RFC 4180): header name,type,ttl,value,required,purpose.
std::string render_zone(std::string_view origin, const std::vector<dns_record>& records,
                        std::uint32_t default_ttl = 3600);
std::string render_zone_line(std::string_view origin, const dns_record& r);
std::string render_json(const std::vector<dns_record>& records);
std::string render_csv(const std::vector<dns_record>& records);

// A text an operator pastes into a ticket to the IP owner: per IP, the PTR to set and why.
std::string render_ptr_requests(const std::vector<host_ip>& ips, std::string_view customer);

} // namespace cartero::dns
