// webui/login_throttle.hpp — the login rate-limit policy: failures counted per key (an account,
// a client address) in a window; too many lock the key out for a while (the panel answers 429).
// Pure functions over admin::throttle_row; core/admin_store persists the rows.
#pragma once

#include "core/admin_store.hpp"

#include <cstdint>

namespace cartero::webui {

struct throttle_policy {
    std::int64_t max_failures = 5;      // within window_seconds → locked
    std::int64_t window_seconds = 900;  // failures older than this are forgotten
    std::int64_t lockout_seconds = 900; // how long a locked key is refused
};

// Seconds until `row` may try again (0 = not locked).
std::int64_t locked_for(const admin::throttle_row& row, std::int64_t now);

// The row after one more failure at `now`: a failure outside the window starts a new one; the
// max_failures-th failure locks the key until now + lockout_seconds and starts counting afresh.
admin::throttle_row after_failure(admin::throttle_row row, std::int64_t now,
                                  const throttle_policy& p);

} // namespace cartero::webui
