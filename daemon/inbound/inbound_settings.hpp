// daemon/inbound/inbound_settings.hpp — what listeners and sessions need from carterod's settings.
#pragma once

#include "daemon/policy/network_list.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace cartero::inbound {

// Immutable once published: SIGHUP builds a new one and new sessions pick it up.
struct inbound_settings {
    std::string hostname = "localhost";
    std::size_t max_command_line = 512;
    std::size_t max_text_line = 1000;
    std::size_t max_recipients = 100;
    std::size_t max_message_size = 50u << 20;
    std::size_t max_bad_commands = 20;
    std::size_t max_connections = 2000;
    std::size_t max_connections_per_ip = 100;
    std::size_t auth_failures_slowdown = 3;
    std::size_t auth_failures_limit = 10;
    std::chrono::seconds auth_failure_window{15 * 60};
    std::chrono::seconds timeout_command{300}; // RFC 5321 §4.5.3.2.7: server 5 minutes
    std::chrono::seconds timeout_data{180};    // §4.5.3.2.5: data block 3 minutes
    std::chrono::seconds timeout_tls_handshake{30};
    policy::network_list trusted_networks;
    bool dmarc_reject = true; // DMARC fail under p=reject on port 25 → 550 5.7.1
};

} // namespace cartero::inbound
