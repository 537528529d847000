// daemon/policy/recipient_resolver.hpp — RCPT TO → reply + delivery targets (local mailboxes,
// forwarder expansion, postmaster, relay rules).
#pragma once

#include "core/config_snapshot.hpp"
#include "core/reply.hpp"
#include "daemon/bounce/verp.hpp"
#include "daemon/policy/session_facts.hpp"
#include "daemon/queue/queue_store.hpp"
#include "daemon/smtp/server_fsm.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cartero::policy {

struct resolution {
    reply answer;                          // what RCPT gets
    std::vector<queue::recipient> targets; // empty unless answer is positive
    // A verified VERP return path (bounces+TOKEN@local-domain, flow 4): accepted with no
    // targets; the message is an asynchronous bounce for this original message/recipient.
    std::optional<bounce::verp_ref> verp;
};

// Quota test: may a message of `size` octets (0 = unknown yet) still go to `maildir`?
using quota_probe = std::function<bool(const std::string& maildir, std::uint64_t quota_bytes,
                                       std::uint64_t size)>;

struct resolver_settings {
    std::filesystem::path mail_root;
    std::size_t max_forward_depth = 10;
    std::string verp_key = {}; // per-installation VERP HMAC key; "" = VERP addresses are not accepted
};

// Decides one RCPT. Rules (DESIGN.md "No open relay"; RFC 5321 §3.6, §4.1.1.3):
//  - bare <postmaster> and postmaster@<local domain> (any case) are always accepted and go to
//    the configured postmaster address, or the holding mailbox <mail_root>/_postmaster;
//  - source routes, address literals and trailing-dot domains are refused outright;
//  - local domain: mailbox, then forwarder, then catch-all, else 550 5.1.1; forwarders expand
//    here, multi-level, and a loop is 550 5.4.6;
//  - bounces+TOKEN@<local domain> (any case) is accepted with no targets and `verp` set when
//    the token verifies with verp_key; a forged or stale token is 550 5.1.1;
//  - any other domain relays only when the session may relay (trusted network or AUTH),
//    else 550 5.7.1 — a permanent refusal.
class recipient_resolver {
public:
    recipient_resolver(resolver_settings s, quota_probe probe);

    resolution resolve(const config::snapshot& cfg, const session_facts& who,
                       const smtp::path& rcpt, std::optional<std::uint64_t> declared_size) const;

    std::string maildir_for(const std::string& domain, const std::string& local) const;
    std::string holding_maildir() const;

private:
    struct expansion;
    bool expand(const config::snapshot& cfg, const std::string& address, std::size_t depth,
                std::vector<std::string>& chain, expansion& out) const;

    resolver_settings s_;
    quota_probe probe_;
};

} // namespace cartero::policy
