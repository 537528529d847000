// provisioning/state_dir.hpp — the state directory's layout and `carteroctl init`, which creates it.
#pragma once

#include <string>

namespace cartero::ctl {

// Files and directories inside a state directory (relative names).
inline constexpr const char* config_db_name = "config.db";
inline constexpr const char* queue_db_name = "queue.db";
inline constexpr const char* settings_name = "carterod.conf";

// Creates `dir` (0750) if missing and lays it out: spool/, mail/, tls/ (0750), queue.db
// (migrated), tls/cert.pem + tls/key.pem (self-signed for `hostname`, only when both are
// missing), carterod.conf (the defaults, only when missing) and, last, config.db (migrated,
// setting hostname). config.db's presence is what "initialised" means: if it exists, nothing
// is done and std::runtime_error("... already initialised ...") is thrown. On any failure,
// everything this call created is removed again and std::runtime_error is thrown.
// `hostname` must already be normalised (names::normalize_domain).
void init_state_dir(const std::string& dir, const std::string& hostname);

} // namespace cartero::ctl
