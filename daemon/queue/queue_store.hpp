// daemon/queue/queue_store.hpp — the durable queue: queue.db (SQLite, WAL) with group commit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cartero::queue {

enum class rcpt_kind { local, remote };

struct recipient {
    std::string rcpt_to;      // what the client wrote in RCPT TO (normalised), for logs/DSNs
    std::string deliver_to;   // local: the mailbox address; remote: the remote address
    rcpt_kind kind = rcpt_kind::local;
    std::string maildir;      // local: absolute Maildir path (mail/<domain>/<local>)
    std::uint64_t quota_bytes = 0; // local: 0 = unlimited
};

struct message {
    std::string id;           // queue id, filled by new_queue_id()
    std::string mail_from;    // "" for the null sender
    std::string helo;
    std::string client_ip;
    std::string auth_user;    // "" when not authenticated
    std::int64_t received_at = 0; // unix seconds
    std::string body;         // the full message as stored (Received header already prepended),
                              // CRLF line endings
    std::vector<recipient> rcpts;
};

// A new, unique, sortable queue id (12+ characters of [0-9A-Z]).
std::string new_queue_id();

struct store_settings {
    std::filesystem::path queue_db;
    std::size_t max_batch = 256; // messages per group commit
    int busy_timeout_ms = 5000;  // wait for another process's write lock (carteroctl init)
};

// A message as the delivery agent gets it: the recipients still to deliver and their row ids.
struct pending_message {
    std::shared_ptr<const message> msg; // msg->rcpts: only the recipients to deliver
    std::vector<std::int64_t> row_ids;  // recipients.id, parallel to msg->rcpts
};

// Group commit: enqueue() may be called from any thread; a single writer thread batches all
// pending messages into one SQLite transaction with synchronous=FULL (one WAL fsync per batch)
// and then calls each `done` on the writer thread: nullopt = durable (a 250 may go out), or an
// error text (the session answers 451 4.3.0). No `done` runs before the fsync that covers it.
// A message-level error (e.g. a duplicate queue id) fails only that message (savepoint); a
// failed COMMIT fails every message of the batch and leaves none of them visible.
// Every SQLite call after open() runs on the writer thread; the other members only hand work
// to it (load_pending_local and flush wait for its answer).
class store {
public:
    using done_fn = std::function<void(std::optional<std::string> error)>;
    // Called on the writer thread after the `done`s of a committed batch, once per message.
    // row_ids are the recipients.id values, parallel to msg->rcpts (remote ones included).
    // Must be cheap and must not call back into the store synchronously (hand off instead).
    using committed_fn =
        std::function<void(std::shared_ptr<const message> msg, std::vector<std::int64_t> row_ids)>;

    // Opens (creating and migrating when needed) queue.db and starts the writer thread.
    // Throws std::runtime_error with a readable message when the file cannot be opened or
    // migrated (e.g. an unwritable directory).
    static std::unique_ptr<store> open(const store_settings& s);
    virtual ~store() = default;
    virtual void enqueue(message m, done_fn done) = 0;
    // Stops the writer after committing what is pending (all `done`s have run on return).
    // enqueue() after stop() calls done("queue is stopped") at once.
    virtual void stop() = 0;
    // Counters for logs/benchmarks.
    virtual std::uint64_t commits() const = 0;
    virtual std::uint64_t messages_committed() const = 0;

    // Installs (or with nullptr removes) the hook for committed messages. Takes effect on the
    // writer thread: every batch committed after this returns goes to the new hook.
    virtual void set_on_committed(committed_fn fn) = 0;
    // Recovery: every local recipient still to deliver ('queued', or 'deferred' with a retry
    // scheduled, next_attempt_at > 0), grouped per message with its body. Blocks the caller
    // until the writer thread has run the query. Throws std::runtime_error on SQLite errors.
    virtual std::vector<pending_message> load_pending_local() = 0;
    // Delivery results. Batched with later commits; written with synchronous=NORMAL, which
    // survives a kill -9 (the WAL write reached the kernel) and loses at most the last marks
    // on a power cut: that only causes a redelivery, which the Maildir writer skips.
    // A message whose recipients are all 'delivered' is deleted (body and recipient rows).
    // Each mark also writes a delivery_log row.
    virtual void mark_delivered(std::vector<std::int64_t> row_ids) = 0;
    // next_attempt_at = 0: no retry scheduled (e.g. 552 5.2.2, waiting for a bounce);
    // > 0: unix time of the next try (load_pending_local returns it again).
    virtual void mark_deferred(std::int64_t row_id, std::string reply,
                               std::int64_t next_attempt_at = 0) = 0;
    // Waits until everything handed to the writer before this call is committed.
    virtual void flush() = 0;
};

} // namespace cartero::queue
