// webui/panel_config.hpp — what cartero-panel runs with: state dir, paths from carterod.conf,
// login throttling and session lifetimes, and the clock (tests set it).
#pragma once

#include "webui/login_throttle.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace cartero::webui {

struct panel_config {
    std::string state_dir;
    std::string mail_root;  // Maildirs: <mail_root>/<domain>/<user>/ (for quota usage)
    std::string resolver;   // DNS checks: "ADDR:PORT" or "" = the system's
    std::string static_dir; // the front end's files
    throttle_policy account_throttle{5, 900, 900};
    throttle_policy ip_throttle{20, 900, 900};
    std::int64_t session_idle_seconds = 1800;
    std::int64_t session_max_seconds = 12 * 3600;
    std::size_t max_body_bytes = 64 * 1024;
    std::function<std::int64_t()> clock; // unix seconds; empty = the system clock

    std::int64_t now() const;
    std::string config_db_path() const { return state_dir + "/config.db"; }
};

} // namespace cartero::webui
