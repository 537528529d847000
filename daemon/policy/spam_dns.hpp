// daemon/policy/spam_dns.hpp — the DNS facts spam scoring uses: DNSBL/DNSWL answers for the
// client's address and its reverse DNS (PTR, forward-confirmed). All lookups run in parallel
// through core/dns's async interface and are cut off at one deadline.
#pragma once

#include "core/dns/resolver.hpp"
#include "core/filter_snapshot.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace cartero::policy {

struct dnsbl_hit {
    std::string zone;
    std::string answer; // the A record that counted, e.g. 127.0.0.2
    double weight = 0;
};

enum class rdns_state {
    unknown,     // not looked up, or no answer in time (temporary: scores nothing)
    none,        // no PTR record (NXDOMAIN or no data)
    unconfirmed, // PTR names a host whose A/AAAA records do not include the client
    confirmed,   // forward-confirmed reverse DNS (FCrDNS)
};

struct spam_dns_facts {
    std::vector<dnsbl_hit> hits;
    rdns_state rdns = rdns_state::unknown;
    std::string ptr_name;     // without the trailing dot
    std::size_t timed_out = 0; // lookups without an answer before the deadline
};

// "192.0.2.1" + "zen.example" -> "1.2.0.192.zen.example"; IPv6 by nibbles (RFC 5782 §2.4).
// "" when `ip` is no IP address.
std::string dnsbl_query_name(std::string_view ip, std::string_view zone);

// Blocking for at most `budget` (run it off the session executor). Answers inside a zone's
// `match` network count, never 127.255.255.0/24 (Spamhaus' error codes for refused queries);
// NXDOMAIN = not listed; errors and timeouts = not listed (a DNSBL outage must not block mail).
spam_dns_facts probe_spam_dns(dns::resolver& r, const std::string& client_ip,
                              const std::vector<config::filter_snapshot::zone>& zones,
                              std::chrono::milliseconds budget);

} // namespace cartero::policy
