// daemon/outbound/retry_schedule.cpp — exponential backoff with a cap and a lifetime.
#include "daemon/outbound/retry_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace cartero::outbound {

std::chrono::seconds retry_schedule::delay_after(std::uint32_t failures) const {
    if (failures <= 1) return std::min(s_.first_delay, s_.max_delay);
    // Computed in floating point and capped before converting: no overflow for large counts.
    const double secs = static_cast<double>(s_.first_delay.count()) *
                        std::pow(s_.growth, static_cast<double>(std::min<std::uint32_t>(failures - 1, 64)));
    const double cap = static_cast<double>(s_.max_delay.count());
    return std::chrono::seconds(static_cast<std::int64_t>(std::min(secs, cap)));
}

std::optional<std::int64_t> retry_schedule::next_attempt(std::int64_t received_at, std::int64_t now,
                                                         std::uint32_t failures) const {
    const std::int64_t expires = received_at + s_.lifetime.count();
    if (now >= expires) return std::nullopt;
    return std::min(now + delay_after(failures).count(), expires);
}

} // namespace cartero::outbound
