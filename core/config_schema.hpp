// core/config_schema.hpp — the config.db schema: migration steps, applied by config_db in order.
#pragma once

#include <string_view>
#include <vector>

namespace cartero::config {

// Step i (0-based) takes the database from user_version i to i + 1. config_db applies each
// pending step and the user_version bump in one transaction.
const std::vector<std::string_view>& schema_migrations();

// Steps defined next to the tables' owners (core/config_schema_sending.cpp), in order:
std::string_view schema_step_dkim();    // 2: dkim_keys
std::string_view schema_step_sending(); // 3: ip_pools, ips, sender_routes, transport_routes,
                                        //    pacing_rules
std::string_view schema_step_filtering(); // 4: spam settings, rules, allow/block lists, DNSBL
                                          //    zones, greylisting (core/config_schema_filtering.cpp)
std::string_view schema_step_autoreply(); // 5: autoresponders (core/config_schema_autoreply.cpp)
std::string_view schema_step_admin();     // 6: panel admins, API tokens, sessions
                                          //    (core/config_schema_admin.cpp)

} // namespace cartero::config
