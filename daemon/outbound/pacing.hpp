// daemon/outbound/pacing.hpp — per-destination limits: concurrency, message rate, messages per
// connection; rules from config.db (pacing_rules) over shipped defaults for large providers.
#pragma once

#include "core/pacing_defaults.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::outbound {

// Defaults: core/pacing_defaults.hpp (carteroctl shows them too).
struct pacing_limits {
    std::uint32_t max_connections = config::default_pacing::max_connections; // per destination × IP
    std::uint32_t messages_per_minute = config::default_pacing::messages_per_minute; // 0 = none
    std::uint32_t messages_per_connection = config::default_pacing::messages_per_connection;
};

// pattern: "example.com" (exactly), "*.example.com" (any subdomain and the domain itself), or
// "mx:*.google.com" (matched against the MX host instead of the recipient domain). Unset
// fields inherit from the defaults. config::normalize_pacing_pattern checks this syntax.
struct pacing_rule {
    std::string pattern;
    std::optional<std::uint32_t> max_connections, messages_per_minute, messages_per_connection;
    std::string note;
};

class pacing_table {
public:
    explicit pacing_table(pacing_limits defaults = {}) : defaults_(defaults) {}
    // Admin rules win over shipped ones; among each, the most specific pattern wins
    // (exact domain > longest suffix > MX suffix).
    void set_rules(std::vector<pacing_rule> admin_rules);
    pacing_limits limits_for(std::string_view domain, std::string_view mx_host = {}) const;

    // Conservative examples for large webmail providers (their published guidance is
    // "start slow, watch 421s"): shipped, overridden by any admin rule with the same pattern.
    static std::vector<pacing_rule> shipped_rules();

private:
    static int specificity(const pacing_rule& r, std::string_view domain, std::string_view mx);
    pacing_limits defaults_;
    std::vector<pacing_rule> admin_;
    std::vector<pacing_rule> shipped_ = shipped_rules();
};

} // namespace cartero::outbound
