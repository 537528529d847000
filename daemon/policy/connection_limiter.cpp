// daemon/policy/connection_limiter.cpp — counting connections per IP and in total.
#include "daemon/policy/connection_limiter.hpp"

namespace cartero::policy {

bool connection_limiter::try_acquire(const std::string& ip) {
    if (max_total_ && total_ >= max_total_) return false;
    auto& n = per_ip_[ip];
    if (max_per_ip_ && n >= max_per_ip_) {
        if (n == 0) per_ip_.erase(ip);
        return false;
    }
    ++n;
    ++total_;
    return true;
}

void connection_limiter::release(const std::string& ip) {
    auto it = per_ip_.find(ip);
    if (it == per_ip_.end()) return;
    if (--it->second == 0) per_ip_.erase(it);
    --total_;
}

} // namespace cartero::policy
