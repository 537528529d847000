// daemon/policy/connection_limiter.hpp — connections in total and per client IP (421 beyond).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace cartero::policy {

// Not thread-safe: lives on the session executor. Every successful try_acquire() is paired
// with exactly one release() (the session's guard does it).
class connection_limiter {
public:
    void set_limits(std::size_t total, std::size_t per_ip) {
        max_total_ = total;
        max_per_ip_ = per_ip;
    }
    bool try_acquire(const std::string& ip);
    void release(const std::string& ip);
    std::size_t total() const { return total_; }

private:
    std::size_t max_total_ = 2000, max_per_ip_ = 100, total_ = 0;
    std::unordered_map<std::string, std::size_t> per_ip_;
};

} // namespace cartero::policy
