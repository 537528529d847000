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
};

// Group commit: enqueue() may be called from any thread; a single writer thread batches all
// pending messages into one SQLite transaction with synchronous=FULL (one WAL fsync per batch)
// and then calls each `done` on the writer thread: nullopt = durable (a 250 may go out), or an
// error text (the session answers 451 4.3.0). No `done` runs before the fsync that covers it.
class store {
public:
    using done_fn = std::function<void(std::optional<std::string> error)>;
    // Opens (creating and migrating when needed) queue.db and starts the writer thread.
    static std::unique_ptr<store> open(const store_settings& s);
    virtual ~store() = default;
    virtual void enqueue(message m, done_fn done) = 0;
    // Stops the writer after committing what is pending (all `done`s have run on return).
    virtual void stop() = 0;
    // Counters for logs/benchmarks.
    virtual std::uint64_t commits() const = 0;
    virtual std::uint64_t messages_committed() const = 0;
};

} // namespace cartero::queue
