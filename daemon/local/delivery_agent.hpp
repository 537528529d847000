// daemon/local/delivery_agent.hpp — local delivery: committed messages → Maildirs, results → queue.
#pragma once

#include "daemon/queue/queue_store.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace cartero::local {

struct delivery_settings {
    std::string hostname;            // used in Maildir file names; "" = gethostname()
    unsigned workers = 2;            // threads; each Maildir always goes to the same one
    std::size_t max_batch = 64;      // deliveries per worker between two rounds of dir fsyncs
    std::chrono::seconds retry_after{300}; // after a temporary (451) failure
};

// Feeds on the store's committed-message hook and, at start, on store.load_pending_local()
// (recovery: everything accepted before a crash or stop is delivered now). Every local
// recipient is written by maildir_writer, then recorded: mark_delivered (after the fsync of
// new/), mark_deferred("552 5.2.2 Mailbox full", no retry) when over quota, or
// mark_deferred("451 4.3.0 ...", now + retry_after) on an I/O error, retried in memory.
// Logs one line per recipient: event=delivered|deferred queue_id= to= maildir= size= / reply=.
// Remote recipients are ignored (the outbound scheduler's work).
class delivery_agent {
public:
    // Installs the hook, runs recovery, starts the workers. `store` must outlive the agent.
    // Throws std::runtime_error when recovery cannot read queue.db.
    static std::unique_ptr<delivery_agent> start(queue::store& store, delivery_settings s);
    virtual ~delivery_agent() = default;
    // Detaches from the store, finishes the deliveries in flight (their results reach the
    // store), drops the rest (still 'queued' in queue.db: the next start recovers them).
    // Call before store.stop().
    virtual void stop() = 0;
    // Waits until nothing is queued or in flight (retries waiting for their time excepted).
    virtual bool wait_idle(std::chrono::milliseconds timeout) = 0;
    virtual std::uint64_t delivered() const = 0; // written or found already present
    virtual std::uint64_t deferred() const = 0;
};

} // namespace cartero::local
