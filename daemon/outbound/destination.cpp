// daemon/outbound/destination.cpp — pacing state of one destination.
#include "daemon/outbound/destination.hpp"

#include <algorithm>
#include <cctype>

namespace cartero::outbound {

namespace {
std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
} // namespace

bool means_slow_down(const reply& r) {
    if (r.code == 421) return true;
    if (!r.temporary()) return false;
    std::string text;
    for (const auto& l : r.lines) text += lower(l) + " ";
    static const char* words[] = {"rate",        "too many",   "throttl",  "reputation",
                                  "limit",       "too fast",   "slow down", "try again later",
                                  "temporarily deferred", "greylist", "graylist", "unusual"};
    const bool policy = r.enhanced.rfind("4.7.", 0) == 0;
    for (const char* w : words)
        if (text.find(w) != std::string::npos) return true;
    // A 4.7.x without telling words is still policy pushback (e.g. "4.7.0 Try later").
    return policy;
}

bool destination::may_connect(std::int64_t now) const {
    return !paused(now) && connections_ < std::max<std::uint32_t>(1, limits_.max_connections);
}

bool destination::take_message_token(double now) {
    if (limits_.messages_per_minute == 0) return true;
    const double per_second = limits_.messages_per_minute / 60.0;
    const double burst = std::max(1.0, static_cast<double>(limits_.messages_per_minute));
    if (tokens_ < 0) {
        tokens_ = burst;
        last_refill_ = now;
    }
    tokens_ = std::min(burst, tokens_ + (now - last_refill_) * per_second);
    last_refill_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

double destination::seconds_until_token(double now) const {
    if (limits_.messages_per_minute == 0 || tokens_ < 0) return 0;
    const double per_second = limits_.messages_per_minute / 60.0;
    const double have = tokens_ + (now - last_refill_) * per_second;
    return have >= 1.0 ? 0 : (1.0 - have) / per_second;
}

void destination::pause_for(std::string why, std::string reply_text, std::int64_t now) {
    const std::int64_t delay = std::min<std::int64_t>(60LL << std::min<std::uint32_t>(pause_.level, 6), 3600);
    pause_.until = now + delay;
    pause_.why = std::move(why);
    pause_.reply = std::move(reply_text);
    ++pause_.level;
}

} // namespace cartero::outbound
