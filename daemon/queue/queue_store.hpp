// daemon/queue/queue_store.hpp — the durable queue: queue.db (SQLite, WAL) with group commit.
#pragma once

#include "daemon/queue/body_spool.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace cartero::queue {

enum class rcpt_kind { local, remote };

struct recipient {
    std::string rcpt_to;      // what the client wrote in RCPT TO (normalised), for logs/DSNs
    std::string deliver_to;   // local: the mailbox address; remote: the remote address
    rcpt_kind kind = rcpt_kind::local;
    std::string maildir;      // local: absolute Maildir path (mail/<domain>/<local>)
    std::uint64_t quota_bytes = 0; // local: 0 = unlimited
    std::string notify = {};  // RFC 3461 NOTIFY as received ("NEVER", "FAILURE,DELAY"…), "" = none
    std::string orcpt = {};   // RFC 3461 ORCPT address (decoded), "" = none
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
    // The Message-ID header's value as written ("<x@y>"), "" when absent. Filled by the store
    // at commit (extract_message_id) when left empty; kept in messages.message_id_header and
    // copied to delivery_log rows so the log can be searched by it.
    std::string message_id_header;
    std::string envid;        // RFC 3461 ENVID (decoded), "" = none
    std::string dsn_ret;      // RFC 3461 RET: "", "FULL" or "HDRS"
    // Set by the store at enqueue: the body also lives in spool/<id>, so a component that
    // keeps the message for long (the outbound scheduler) can drop the body and read it back.
    bool spooled = false;
    // Set by the SMTP session (not stored): every line of body ends in CRLF and none starts
    // with ".", so the outbound client sends it without dot-stuffing or a copy. Unknown
    // (false) for messages read back from queue.db and for those Cartero makes itself.
    bool dot_free = false;
};

// The Message-ID of a stored message: the header section is scanned up to its first empty line
// (at most 256 KiB), the header name matched case-insensitively, folded lines unfolded
// (RFC 5322 §2.2.3), surrounding whitespace trimmed; at most 998 bytes kept. "" when absent.
std::string extract_message_id(std::string_view body);

// A new, unique, sortable queue id (12+ characters of [0-9A-Z]).
std::string new_queue_id();

struct store_settings {
    std::filesystem::path queue_db;
    std::size_t max_batch = 256; // messages per group commit
    int busy_timeout_ms = 5000;  // wait for another process's write lock (carteroctl init)
    // Bodies of at least this many bytes go to <dir of queue_db>/spool/<queue id> instead of
    // messages.body (body_spool.hpp); tests lower it to exercise the spool with small messages.
    std::size_t spool_threshold = default_spool_threshold;
    // Delivery results with no new message to ride with wait this long for one (or until
    // results_alone_max of them are pending, a task is due, or the store stops): no client
    // waits for them, and in the next group commit they cost no COMMIT, no WAL sync and no
    // second copy of the pages both touch. 0: written at once, in a transaction of their own.
    std::chrono::milliseconds results_delay{5};
    std::size_t results_alone_max = 256;
};

// A message as the delivery agent gets it: the recipients still to deliver and their row ids.
struct pending_message {
    std::shared_ptr<const message> msg; // msg->rcpts: only the recipients to deliver
    std::vector<std::int64_t> row_ids;  // recipients.id, parallel to msg->rcpts
};

// What an administrator did to a message (through queue_admin). Delivery components subscribe
// with store::add_admin_listener so that held, deleted and bounced messages are not delivered
// and released or retried ones are tried now.
enum class admin_action { held, released, retried, deleted, bounced };

struct admin_event {
    admin_action action = admin_action::held;
    std::string queue_id;
    // deleted, bounced: the recipients (deliver_to) that were still undelivered; bounced: the
    // DSN to the envelope sender for them is the outbound/bounce code's job (dsn_sent = 0 marks
    // them; the message row stays until that code has reported them).
    std::vector<std::string> recipients;
    // released, retried: the message's local recipients now due (0 or 1 entry), so the local
    // delivery agent needs no query of its own. Remote ones are the scheduler's to look up.
    std::vector<pending_message> local_pending;
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
    // Adds a further subscriber (called before the set_on_committed hook, same thread and
    // rules). Listeners stay for the store's life.
    virtual void add_committed_listener(committed_fn fn) = 0;
    // Recovery: every local recipient still to deliver ('queued', or 'deferred' with a retry
    // scheduled, next_attempt_at > 0) of a message that is not held, grouped per message with
    // its body. Blocks the caller
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
    // The body of a committed spooled message, read from its file on the caller's thread (no
    // writer round trip); nullptr when the message has no spool file. Throws
    // std::runtime_error when the file exists but cannot be read.
    virtual std::shared_ptr<const std::string> read_spooled(const std::string& queue_id) const = 0;

    // --- administration (queue_admin is the caller; one writer stays the rule) ---
    // Runs fn on the writer thread with its connection (synchronous=FULL, autocommit: fn opens
    // and ends its own transaction), after the enqueues and marks handed over before this call.
    // Returns false, and never runs fn, once the store is stopped.
    using writer_task = std::function<void(sqlite3* db)>;
    virtual bool run_on_writer(writer_task fn) = 0;
    // Runs fn on the writer thread inside the next write transaction, so that delivery results
    // share a COMMIT (and its WAL frames for the hot pages) with the next group commit of
    // new messages; with no enqueue pending it gets a transaction of its own (with the marks,
    // synchronous=NORMAL as for marks). fn must not BEGIN/COMMIT/ROLLBACK. It runs inside a
    // SAVEPOINT: if it throws, its changes are undone, the error logged, and the rest of the
    // transaction (the new messages) still commits. fn runs once: if that COMMIT fails, its
    // changes are lost like the batch's (logged; the next start redelivers what it recorded).
    // Returns false, and never runs fn, once the store is stopped.
    virtual bool run_in_transaction(writer_task fn) = 0;
    // Subscribers to admin_events; a listener runs on the writer thread right after the change
    // is committed and must only hand the work over (no call back into the store from there).
    using admin_listener = std::function<void(const admin_event&)>;
    virtual std::uint64_t add_admin_listener(admin_listener fn) = 0;
    // After this returns the listener is not running and will not run again.
    virtual void remove_admin_listener(std::uint64_t token) = 0;
    // Calls every listener (from a writer_task, after its COMMIT).
    virtual void publish(const admin_event& e) = 0;
};

namespace detail {
// The local recipients still to deliver ('queued', or 'deferred' with a retry scheduled) of
// messages that are not held, grouped per message with the body; queue_id "" = every message.
// For the writer thread (load_pending_local) and writer_tasks. Throws std::runtime_error.
std::vector<pending_message> query_pending_local(sqlite3* db, const std::string& queue_id);
} // namespace detail

} // namespace cartero::queue
