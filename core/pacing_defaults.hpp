// core/pacing_defaults.hpp — the pacing defaults and the rules shipped with Cartero (large
// webmail providers), shared by the outbound scheduler and `carteroctl pacing list`.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace cartero::config {

// Limits of a destination no rule matches (daemon/outbound/pacing.hpp pacing_limits).
struct default_pacing {
    static constexpr std::uint32_t max_connections = 5;          // per destination × source IP
    static constexpr std::uint32_t messages_per_minute = 0;      // 0 = no rate limit
    static constexpr std::uint32_t messages_per_connection = 100; // then QUIT and reconnect
};

struct shipped_pacing_rule {
    std::string_view pattern; // syntax of config::normalize_pacing_pattern
    std::uint32_t max_connections, messages_per_minute, messages_per_connection;
    std::string_view note;
};

// Conservative examples for large webmail providers (their published guidance is "start slow,
// watch 421s"); an admin rule with the same pattern overrides the fields it sets.
inline constexpr std::array<shipped_pacing_rule, 11> shipped_pacing_rules{{
    {"*.gmail.com", 10, 600, 100, "Google consumer mail"},
    {"googlemail.com", 10, 600, 100, "Google consumer mail"},
    {"mx:*.google.com", 10, 600, 100, "Google-hosted domains"},
    {"*.outlook.com", 5, 300, 50, "Microsoft consumer mail"},
    {"hotmail.com", 5, 300, 50, "Microsoft consumer mail"},
    {"live.com", 5, 300, 50, "Microsoft consumer mail"},
    {"mx:*.protection.outlook.com", 5, 300, 50, "Microsoft 365 tenants"},
    {"*.yahoo.com", 3, 120, 20, "Yahoo mail"},
    {"aol.com", 3, 120, 20, "Yahoo-operated AOL mail"},
    {"*.icloud.com", 3, 120, 20, "Apple iCloud mail"},
    {"me.com", 3, 120, 20, "Apple iCloud mail"},
}};

} // namespace cartero::config
