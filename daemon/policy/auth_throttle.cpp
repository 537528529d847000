// daemon/policy/auth_throttle.cpp — sliding-window AUTH failure accounting.
#include "daemon/policy/auth_throttle.hpp"

#include <algorithm>

namespace cartero::policy {

void auth_throttle::prune(std::deque<clock::time_point>& q, clock::time_point now) {
    while (!q.empty() && now - q.front() > window_) q.pop_front();
}

std::size_t auth_throttle::failures(const std::string& ip, clock::time_point now) {
    auto it = failures_.find(ip);
    if (it == failures_.end()) return 0;
    prune(it->second, now);
    if (it->second.empty()) {
        failures_.erase(it);
        return 0;
    }
    return it->second.size();
}

bool auth_throttle::refused(const std::string& ip, clock::time_point now) {
    return limit_ && failures(ip, now) >= limit_;
}

auth_throttle::clock::duration auth_throttle::delay(const std::string& ip, clock::time_point now) {
    auto n = failures(ip, now);
    if (n < slowdown_) return clock::duration::zero();
    // One second per failure beyond the threshold, capped: slows a guesser, not a typo.
    auto secs = std::min<std::size_t>(n - slowdown_ + 1, 10);
    return std::chrono::seconds(secs);
}

void auth_throttle::record_failure(const std::string& ip, clock::time_point now) {
    auto& q = failures_[ip];
    prune(q, now);
    q.push_back(now);
    // Bound memory per IP: only the count within the window matters.
    while (q.size() > limit_ + 16) q.pop_front();
}

} // namespace cartero::policy
