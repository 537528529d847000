// daemon/policy/greylist.hpp — greylisting at RCPT (RFC 6647): triplet memory, delay, retry
// window, auto-whitelisting of client networks that retried, expiry. No I/O: queue.db
// persistence is a callback (carterod hands it to the queue store's writer thread).
#pragma once

#include "core/greylist_settings.hpp"
#include "core/reply.hpp"
#include "daemon/queue/queue_store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cartero::policy {

// One row of queue.db's `greylist` table.
struct greylist_entry {
    std::string client_net; // "192.0.2.0/24" or "2001:db8:1:2::/64"
    std::string sender;     // envelope sender, lower-cased; "" = null sender
    std::string recipient;  // RCPT address, lower-cased
    std::int64_t first_seen = 0;
    std::int64_t last_seen = 0;
    std::int64_t passed_at = 0; // 0 = has not retried successfully yet
};

struct greylist_change {
    greylist_entry row;
    bool erase = false; // false: insert or replace the row
};

// Thread-safe (one mutex; every call is a few map operations).
class greylist {
public:
    using clock_fn = std::function<std::int64_t()>; // Unix seconds
    using persist_fn = std::function<void(std::vector<greylist_change>)>;

    // `persist` gets every change, in order; it must not call back into this object.
    // `max_entries` bounds memory: when full (after expiring), new triplets are not
    // remembered and pass (fail open, logged by the caller through `full()`).
    greylist(clock_fn now, persist_fn persist, std::size_t max_entries = 200000);

    void set_config(std::shared_ptr<const config::greylist_config> cfg);
    // The rows saved in queue.db (at start); replaces what is in memory, persists nothing.
    void load(std::vector<greylist_entry> rows);

    // The RCPT decision for a session on port 25 from an unauthenticated, untrusted client
    // (the caller checks that). nullopt = accept; else 451 4.7.1 "greylisted, try again in N
    // seconds". Order: recipient domain without greylisting → accept; static whitelist
    // (client network, sender domain or a parent of it) → accept; triplet passed and not
    // expired → accept; client network auto-whitelisted (a triplet from it passed within the
    // domain's expiry) → accept and remember the triplet as passed; unknown or stale triplet
    // (first retry later than the retry window) → remember, 451 (delay); retried too early →
    // 451 (the rest of the delay); retried after the delay → accept, triplet passed.
    std::optional<reply> check(std::string_view client_ip, std::string_view sender,
                               std::string_view recipient);

    // Forgets unpassed triplets older than their domain's retry window and passed ones unseen
    // for its expiry (defaults for domains no longer configured); persists the erasures.
    // Returns how many were dropped. Call periodically (carterod: hourly and at start).
    std::size_t expire();

    std::size_t size() const;
    bool full() const;

    // The network a client is remembered by: IPv4 /24, IPv6 /64 (IPv4-mapped IPv6 as IPv4),
    // as "a.b.c.0/24" / "x:x:x:x::/64". "" for text that is no IP address.
    static std::string client_network(std::string_view ip);

private:
    struct net_info {
        std::int64_t last_pass = 0; // latest last_seen of a passed triplet from the network
    };
    static std::string key(const greylist_entry& e);
    const config::greylist_domain_row& settings_for(std::string_view recipient) const;
    void touch_net(const greylist_entry& e);

    clock_fn now_;
    persist_fn persist_;
    std::size_t max_entries_;
    mutable std::mutex mu_;
    std::shared_ptr<const config::greylist_config> cfg_;
    std::unordered_map<std::string, greylist_entry> entries_;
    std::unordered_map<std::string, net_info> nets_;
};

// queue.db glue (table `greylist`, queue schema step 3), always through the store's writer thread:
// the saved rows (blocks until the writer answered; throws std::runtime_error), and a persist_fn
// that hands each batch of changes to the writer (one transaction, fire and forget: a lost
// batch costs a sender one more delay, never a wrongly accepted message).
std::vector<greylist_entry> load_greylist_rows(queue::store& store);
greylist::persist_fn queue_persister(queue::store& store);

} // namespace cartero::policy
