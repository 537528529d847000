// core/config_schema_admin.cpp — config.db step for panel admins, API tokens, sessions.
#include "core/config_schema.hpp"

namespace cartero::config {

// PLACEHOLDER until its owner writes the tables: a no-op step keeps the numbering fixed.
std::string_view schema_step_admin() { return "SELECT 1;"; }

} // namespace cartero::config
