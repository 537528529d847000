// daemon/inbound/shared_state.hpp — what every session shares: settings, config snapshot,
// limiters, the resolver, the queue. Lives on the session executor (one thread).
#pragma once

#include "core/config_snapshot.hpp"
#include "core/dns/resolver.hpp"
#include "daemon/inbound/inbound_settings.hpp"
#include "daemon/policy/auth_throttle.hpp"
#include "daemon/policy/connection_limiter.hpp"
#include "daemon/policy/greylist.hpp"
#include "daemon/policy/recipient_resolver.hpp"
#include "daemon/queue/queue_store.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_set>

namespace cartero::inbound {

struct shared_state {
    std::shared_ptr<const inbound_settings> settings;
    std::shared_ptr<const config::snapshot> config;
    // queue.db's suppression list (lower-case addresses), refreshed by carterod when it
    // changes: such recipients are refused at RCPT (hard bounces, issue 3).
    std::shared_ptr<const std::unordered_set<std::string>> suppressed =
        std::make_shared<const std::unordered_set<std::string>>();
    policy::connection_limiter limiter;
    policy::auth_throttle auth_throttle;
    std::unique_ptr<policy::recipient_resolver> resolver;
    policy::quota_probe quota;
    queue::store* store = nullptr;
    boost::asio::ssl::context* tls = nullptr; // null: no certificate, no TLS offered
    boost::asio::ssl::context* stream_tls = nullptr; // never null: streams need a context
    boost::asio::thread_pool* blocking_pool = nullptr; // password hashing and the like
    dns::resolver* dns = nullptr; // SPF, DKIM and DMARC lookups (null: not checked)
    policy::greylist* greylist = nullptr; // RCPT on port 25 from strangers (null: off)
    std::atomic<std::uint64_t> sessions_started{0};
    std::atomic<std::uint64_t> messages_accepted{0};
};

} // namespace cartero::inbound
