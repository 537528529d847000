// daemon/outbound/destination.hpp — one destination (recipient domain × source IP): its
// connections, message rate, and automatic pause after "slow down" replies.
#pragma once

#include "core/reply.hpp"
#include "daemon/outbound/pacing.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace cartero::outbound {

// Replies that mean "you are sending too fast or we do not trust you right now": 421 (service
// closing), and 4.7.x / 450-451 texts about rates, limits, throttling, reputation or
// greylisting. Such a reply pauses the whole destination, not just the one message.
bool means_slow_down(const reply& r);

struct pause_state {
    std::int64_t until = 0;   // unix seconds; 0 = not paused
    std::string why;          // "rate limited by remote", "connection refused"
    std::string reply;        // the remote reply that caused it, verbatim
    std::uint32_t level = 0;  // consecutive pauses: the delay grows with it
};

class destination {
public:
    destination(std::string domain, std::string source_ip, pacing_limits limits)
        : domain_(std::move(domain)), source_ip_(std::move(source_ip)), limits_(limits) {}

    const std::string& domain() const { return domain_; }
    const std::string& source_ip() const { return source_ip_; }
    const pacing_limits& limits() const { return limits_; }
    void set_limits(const pacing_limits& l) { limits_ = l; }

    bool paused(std::int64_t now) const { return pause_.until > now; }
    const pause_state& pause() const { return pause_; }
    // May another connection start now? (not paused, below max_connections)
    bool may_connect(std::int64_t now) const;
    void connection_opened() { ++connections_; }
    void connection_closed() {
        if (connections_ > 0) --connections_;
    }
    std::uint32_t connections() const { return connections_; }

    // Token bucket for messages_per_minute (burst = one minute's worth); true = may send one.
    bool take_message_token(double now_seconds);
    // When the next token is due (seconds, for the scheduler's timer); 0 when one is there.
    double seconds_until_token(double now_seconds) const;

    // Pause: 1 min, then doubling per consecutive pause up to 1 h (DESIGN.md "automatic pauses").
    void pause_for(std::string why, std::string reply, std::int64_t now);
    // A successful delivery ends the pause streak.
    void delivered_ok() { pause_.level = 0; }

    // The MX host the transport chose for the domain ("" = a route, the relayhost, or no
    // answer): `mx:` pacing rules match it. Until the first job has told (mx_known), the
    // destination runs one connection only, so limits of an `mx:` rule apply from the start.
    const std::string& mx_host() const { return mx_host_; }
    bool mx_known() const { return mx_known_; }
    void set_mx_host(std::string host) {
        mx_host_ = std::move(host);
        mx_known_ = true;
    }

private:
    std::string domain_, source_ip_;
    pacing_limits limits_;
    std::uint32_t connections_ = 0;
    double tokens_ = -1; // -1 = not started (full bucket)
    double last_refill_ = 0;
    pause_state pause_;
    std::string mx_host_;
    bool mx_known_ = false;
};

} // namespace cartero::outbound
