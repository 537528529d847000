// core/config_schema_autoreply.cpp — config.db step for autoresponders.
#include "core/config_schema.hpp"

namespace cartero::config {

// PLACEHOLDER until its owner writes the tables: a no-op step keeps the numbering fixed.
std::string_view schema_step_autoreply() { return "SELECT 1;"; }

} // namespace cartero::config
