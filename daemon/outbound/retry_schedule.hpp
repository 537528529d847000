// daemon/outbound/retry_schedule.hpp — when a temporarily failed recipient is tried again, and
// when it expires (DESIGN.md Flow 3: 5 minutes growing to about an hour, 5 days at most).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace cartero::outbound {

struct retry_settings {
    std::chrono::seconds first_delay{5 * 60};  // after the first failure (Postfix: 300 s)
    std::chrono::seconds max_delay{60 * 60};   // the gap never grows beyond (Postfix: 4000 s)
    std::chrono::seconds lifetime{5 * 24 * 3600}; // from arrival; then the recipient bounces
    double growth = 2.0;                       // each gap is the previous one times this
    // A recipient still deferred this long after arrival gets one "delayed" DSN (carterod.conf
    // delay_warning_time; Postfix's delay_warning_time). 0 = never.
    std::chrono::seconds delay_warning{0};
};

class retry_schedule {
public:
    explicit retry_schedule(retry_settings s = {}) : s_(s) {}

    // The gap after `failures` temporary failures (1 = after the first): first_delay,
    // then ×growth per failure, capped at max_delay.
    std::chrono::seconds delay_after(std::uint32_t failures) const;

    // The next attempt time (unix seconds) after a temporary failure at `now`, or nullopt when
    // the message has outlived its lifetime (then the recipient expires: a DSN with
    // the last reply). A next attempt never lands after the expiry time: the last try is at it.
    std::optional<std::int64_t> next_attempt(std::int64_t received_at, std::int64_t now,
                                             std::uint32_t failures) const;

    const retry_settings& settings() const { return s_; }

private:
    retry_settings s_;
};

} // namespace cartero::outbound
