// daemon/policy/sender_policy.hpp — MAIL FROM decisions: who may send as which address.
#pragma once

#include "core/config_snapshot.hpp"
#include "core/reply.hpp"
#include "daemon/policy/session_facts.hpp"
#include "daemon/smtp/server_fsm.hpp"

#include <string>
#include <vector>

namespace cartero::policy {

// Addresses an authenticated user may use as MAIL FROM: its mailbox, and every forwarder
// source that points straight at it (catch-alls excluded: they own no single address).
std::vector<std::string> owned_addresses(const config::snapshot& cfg, const std::string& user);

// Authenticated sessions may only use owned addresses (else 553 5.7.1) or the null sender
// (bounces and autoreplies); unauthenticated sessions are judged later (SPF/DMARC issue).
reply check_sender(const config::snapshot& cfg, const session_facts& who, const smtp::path& from);

} // namespace cartero::policy
