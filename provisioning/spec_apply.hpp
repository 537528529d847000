// provisioning/spec_apply.hpp — `carteroctl provision`: bring DIR (state dir, secrets, DNS
// material) in line with a validated customer spec, changing only what differs.
#pragma once

#include "provisioning/spec.hpp"

#include <string>
#include <vector>

namespace cartero::provision {

// Layout of the output directory (relative names).
inline constexpr const char* state_subdir = "state";     // the state dir carterod runs from
inline constexpr const char* secrets_subdir = "secrets"; // 0700: generated passwords, 0600 each
inline constexpr const char* dns_subdir = "dns";         // zone files, policy, PTR requests

struct apply_report {
    std::vector<std::string> changes; // "added mailbox x", "dns/acme.example.zone: updated"
    std::vector<std::string> kept;    // things in DIR/state that the spec no longer lists
};

// Problems between the spec and an existing DIR/state that would stop apply_spec half-way
// (e.g. a DKIM selector that exists with another algorithm: keys are never replaced), as
// "PATH: what" lines. Empty when DIR/state does not exist yet. Writes nothing.
std::vector<std::string> check_against_state(const customer_spec& spec, const std::string& out_dir);

// Creates or updates out_dir from `spec` (which must be valid, and pass check_against_state):
//  - state/: init_state_dir when new; settings, domains, pools, IPs, relayhost, admin,
//    mailboxes, forwarders, DKIM keys and the TLS certificate's names reconciled with the spec;
//  - secrets/: admin-password and mailboxes/<address>, written once when the account is made;
//  - dns/: <domain>.zone, mta-sts.<domain>.txt, ptr-requests.txt, records.json, records.csv,
//    each rewritten only when its content differs.
// The spec is authoritative for IPs and the relayhost (addresses not in it are removed: they
// must leave SPF); domains, mailboxes, forwarders, DKIM keys, pools and admins it no longer
// lists are kept and reported in `kept` (they hold mail, keys or an admin's edits).
// Throws std::runtime_error / config::config_error on failure; what was done before the
// failure stays done, and a rerun continues from there.
apply_report apply_spec(const customer_spec& spec, const std::string& out_dir);

} // namespace cartero::provision
