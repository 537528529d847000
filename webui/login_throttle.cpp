// webui/login_throttle.cpp — failure counting and lockout for panel logins.
#include "webui/login_throttle.hpp"

namespace cartero::webui {

std::int64_t locked_for(const admin::throttle_row& row, std::int64_t now) {
    return row.locked_until > now ? row.locked_until - now : 0;
}

admin::throttle_row after_failure(admin::throttle_row row, std::int64_t now,
                                  const throttle_policy& p) {
    if (row.failures == 0 || now - row.window_start >= p.window_seconds) {
        row.failures = 0;
        row.window_start = now;
    }
    ++row.failures;
    if (row.failures >= p.max_failures) {
        row.locked_until = now + p.lockout_seconds;
        row.failures = 0;
        row.window_start = now;
    }
    return row;
}

} // namespace cartero::webui
