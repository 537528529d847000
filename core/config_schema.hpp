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

} // namespace cartero::config
