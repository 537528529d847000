// daemon/policy/spam_scorer.hpp — the message-wide spam score: DNSBL/DNSWL, reverse DNS, HELO
// sanity, SPF/DKIM/DMARC results and the header/body rules; each contribution is an item of
// the report. Pure (no I/O): the DNS facts and authentication results come in.
#pragma once

#include "core/config_snapshot.hpp"
#include "core/filter_snapshot.hpp"
#include "daemon/policy/spam_dns.hpp"
#include "daemon/policy/spam_message.hpp"

#include <string>
#include <vector>

namespace cartero::policy {

// Authentication results as daemon/mailauth words ("pass", "fail", "softfail", "neutral",
// "none", "temperror", "permerror"); dmarc_policy is the applied policy ("none", "quarantine",
// "reject") after pct sampling.
struct spam_auth {
    std::string spf = "none";
    std::string dkim = "none";
    std::string dmarc = "none";
    std::string dmarc_policy = "none";
    std::string dmarc_domain; // the domain whose record applied (for the reject text)
};

struct spam_request {
    std::string client_ip;
    std::string helo;
    std::string mail_from; // "" for <>
    std::string hostname;  // ours: a HELO claiming it is forged
    spam_auth auth;
    bool dmarc_reject_allowed = true; // carterod.conf dmarc_reject: "no" turns reject into junk
};

struct score_item {
    std::string name;   // e.g. SPF_FAIL, DNSBL, RULE_<name>, ALLOWLIST
    double score = 0;
    std::string detail; // one line, printable ASCII
};

// Built-in weights (daemon/policy/README.md has the table and the reasoning).
namespace spam_weights {
inline constexpr double spf_fail = 2.0, spf_softfail = 1.0, spf_permerror = 0.5, spf_pass = -0.5;
inline constexpr double dkim_fail = 1.0, dkim_pass = -0.5;
inline constexpr double dmarc_reject = 4.0, dmarc_quarantine = 2.5, dmarc_none = 0.5,
                        dmarc_pass = -0.5;
inline constexpr double rdns_none = 1.5, rdns_unconfirmed = 0.5;
inline constexpr double helo_ours = 3.0, helo_bare_ip = 1.0, helo_literal_mismatch = 1.0,
                        helo_not_fqdn = 1.0;
inline constexpr double allowlist = -100.0, blocklist = 100.0;
} // namespace spam_weights

// Every item that applies; the score is their sum.
std::vector<score_item> score_message(const spam_request& rq, const spam_message& msg,
                                      const spam_dns_facts& dns, const config::snapshot& cfg);

double total(const std::vector<score_item>& items);

} // namespace cartero::policy
