// daemon/policy/auth_throttle.hpp — AUTH failures per client IP: slowed down, then refused.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>

namespace cartero::policy {

// Failures are remembered for `window`. With `slowdown` or more recent failures each further
// attempt waits delay() before it is answered; with `limit` or more, AUTH is refused outright
// (454 4.7.0) until old failures age out. Not thread-safe: session executor only.
class auth_throttle {
public:
    using clock = std::chrono::steady_clock;

    void set_limits(std::size_t slowdown, std::size_t limit, clock::duration window) {
        slowdown_ = slowdown;
        limit_ = limit;
        window_ = window;
    }
    bool refused(const std::string& ip, clock::time_point now = clock::now());
    clock::duration delay(const std::string& ip, clock::time_point now = clock::now());
    void record_failure(const std::string& ip, clock::time_point now = clock::now());
    std::size_t failures(const std::string& ip, clock::time_point now = clock::now());

private:
    void prune(std::deque<clock::time_point>& q, clock::time_point now);
    std::size_t slowdown_ = 3, limit_ = 10;
    clock::duration window_ = std::chrono::minutes(15);
    std::unordered_map<std::string, std::deque<clock::time_point>> failures_;
};

} // namespace cartero::policy
