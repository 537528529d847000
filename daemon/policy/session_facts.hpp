// daemon/policy/session_facts.hpp — what policy decisions know about the SMTP session.
#pragma once

#include "core/daemon_settings.hpp"

#include <optional>
#include <string>

namespace cartero::policy {

// The listener a session came in on (DESIGN.md: smtp = MX on 25, submission = 587/2525 with
// STARTTLS then AUTH, smtps = 465 implicit TLS with AUTH). Declared with the settings table.
using config::listener_kind;

struct session_facts {
    listener_kind kind = listener_kind::smtp;
    std::string client_ip;                // textual, no brackets
    bool trusted_network = false;         // client_ip is inside a trusted_network CIDR
    std::optional<std::string> auth_user; // normalised mailbox address after AUTH
    bool may_relay() const { return trusted_network || auth_user.has_value(); }
};

} // namespace cartero::policy
