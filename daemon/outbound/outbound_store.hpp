// daemon/outbound/outbound_store.hpp — the scheduler's view of queue.db: pending remote
// recipients at start, bodies on demand, attempt outcomes (recipient state, delivery log,
// bounces, suppression), and message clean-up once every recipient is settled.
#pragma once

#include "daemon/outbound/outbound_types.hpp"
#include "daemon/outbound/scheduler.hpp"
#include "daemon/queue/queue_store.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace cartero::outbound {

class outbound_store {
public:
    explicit outbound_store(queue::store& s);

    // Remote recipients still to deliver ('queued', or 'deferred' with a retry time) of
    // messages that are not held, grouped per message; bodies are not loaded. Blocks.
    // queue_id "" = every message; else only that one (a released message the scheduler does
    // not know: held at start, load_pending skipped it).
    std::vector<std::shared_ptr<outbound_message>> load_pending(const std::string& queue_id = {});
    // A message with its failed recipients whose DSN is not sent yet (an admin bounce), body
    // loaded; nullptr when there is none. Blocks.
    std::shared_ptr<outbound_message> load_unreported_failures(const std::string& queue_id,
                                                               std::vector<std::string>& replies);
    // Messages with failed recipients whose DSN was never queued: the process died between
    // recording the failure and queueing its DSN (start-up recovery reports them). Blocks.
    std::vector<std::string> unreported_failure_ids();
    // One message's body (nullptr when it is gone). Blocks.
    std::shared_ptr<const std::string> load_body(const std::string& queue_id);
    // The remote recipients of a message just committed (no queue.db read).
    // The body is shared with the committed message (no copy); a spooled one only while the
    // spooled bodies held this way stay within spooled_memory_budget (else nullptr: loaded
    // from its file before the attempt).
    static constexpr std::size_t spooled_memory_budget = 32u << 20;
    static std::size_t spooled_bodies_in_memory();
    static std::shared_ptr<outbound_message> from_committed(std::shared_ptr<const queue::message> m,
                                                            const std::vector<std::int64_t>& rows);

    // Persists outcomes on the writer thread (asynchronously; what arrives while a write is
    // queued joins it; the write rides in the queue's next transaction — with the next group
    // commit of new messages when there is one, see queue::store::run_in_transaction): recipient state, attempts,
    // next try, last reply and class; one delivery_log row each; a bounces row for failures;
    // invalid-recipient hard bounces on the suppression list. Failures of null-sender messages
    // (DSNs themselves) need no DSN and are settled at once.
    void record(const std::vector<recipient_outcome>& outcomes);
    // The suppression list when it changed since `fingerprint` (updated); nullopt otherwise.
    // Blocks briefly (one query on the writer thread).
    std::optional<std::vector<std::string>> suppression_if_changed(std::string& fingerprint);
    // The DSN for these recipients is queued: mark them settled and drop finished messages.
    void dsn_sent(const std::string& queue_id, const std::vector<std::int64_t>& rows);
    // The "delayed" DSN for these recipients is queued (recipients.delay_dsn_sent: once each).
    void delay_dsn_sent(const std::vector<std::int64_t>& rows);

private:
    struct pending_records;
    // Inside the writer's open transaction; throws on an SQLite error (the caller's savepoint
    // undoes what it wrote).
    static void write_records(sqlite3* db, const std::vector<recipient_outcome>& outcomes);
    queue::store& store_;
    std::shared_ptr<pending_records> pending_;
};

} // namespace cartero::outbound
