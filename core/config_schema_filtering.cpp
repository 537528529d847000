// core/config_schema_filtering.cpp — config.db step for spam settings, rules, lists, DNSBL zones, greylisting.
#include "core/config_schema.hpp"

namespace cartero::config {

// PLACEHOLDER until its owner writes the tables: a no-op step keeps the numbering fixed.
std::string_view schema_step_filtering() { return "SELECT 1;"; }

} // namespace cartero::config
