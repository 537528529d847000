// daemon/queue/queue_admin.hpp — the queue's administrative operations: list, show, counts, log
// search and suppression reads on read-only connections; hold, release, retry, delete, bounce and
// suppression changes on the store's writer thread (queue.db keeps one writer).
#pragma once

#include "daemon/queue/queue_store.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cartero::queue {

// A refusal a person can act on ("no message X in the queue", "limit must be ..."): the control
// socket sends its text as is. Other std::runtime_errors are internal (SQLite) failures.
struct admin_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct recipient_view {
    std::int64_t id = 0;
    std::string rcpt_to, deliver_to, kind, state;
    std::int64_t attempts = 0, next_attempt_at = 0, first_attempt_at = 0, updated_at = 0;
    std::string last_reply, bounce_class, notify, orcpt;
    bool dsn_sent = false;
};

struct message_view {
    std::string id;
    std::int64_t received_at = 0;
    std::string sender; // "" = the null sender
    std::int64_t size = 0;
    bool held = false;
    std::string message_id_header;
    std::vector<recipient_view> recipients;
};

struct log_row {
    std::int64_t id = 0, at = 0;
    std::string message_id, recipient, result, reply, sender, message_id_header, dest_host,
        dest_ip, source_ip, tls, bounce_class;
};

struct message_detail : message_view {
    std::string helo, client_ip, auth_user, envid, dsn_ret;
    std::string headers;           // the header section, at most max_header_bytes
    bool headers_truncated = false;
    std::vector<log_row> log;      // oldest first
};

struct suppression_row {
    std::string address, reason, bounce_class, source_message;
    std::int64_t created_at = 0;
};

struct list_filter {
    std::string state;     // "" or queued|delivered|deferred|failed: a recipient in that state
    std::string kind;      // "" or local|remote: a recipient of that kind
    std::string sender;    // substring of the envelope sender
    std::string recipient; // substring of a recipient address
    std::optional<bool> held;
    int limit = 100;       // 1..1000
    int offset = 0;
};

struct list_result {
    std::int64_t total = 0; // messages matching the filter (for paging)
    std::vector<message_view> messages;
};

struct log_query {
    std::string query;     // an address (recipient or sender), a queue id, or a Message-ID
    std::int64_t since = 0, until = 0; // unix seconds, 0 = open
    int limit = 100;       // 1..1000
};

struct queue_counts {
    std::int64_t messages = 0, held = 0;
    std::map<std::string, std::int64_t> recipients; // "queued/remote" → n, every state × kind
};

// Delivery-log rows by result, for the panel's dashboard (op "stats").
struct result_counts {
    std::int64_t delivered = 0, deferred = 0, failed = 0, bounced = 0;
};
struct log_stats {
    result_counts last_24h, last_7d;
    // Oldest first: 24 hourly buckets ending with the current hour, 7 daily ones (UTC days)
    // ending with today; each pair is (bucket start, counts).
    std::vector<std::pair<std::int64_t, result_counts>> hourly, daily;
};

// Failed and bounced delivery-log rows (op "bounces"), newest first, and their count per
// bounce class over the same period.
struct bounce_query {
    std::string bounce_class; // "" = every class
    std::int64_t since = 0;   // unix seconds, 0 = open
    int limit = 100;          // 1..1000
};
struct bounce_report {
    std::vector<log_row> rows;
    std::map<std::string, std::int64_t> classes;
};

// What a write did: the message and how many recipients it touched.
struct action_result {
    std::string queue_id;
    int recipients = 0;
};

// Thread-safe; every call blocks its caller (the control server runs them on its own pool, never
// on the SMTP io thread). Reads use up to `read_connections` read-only SQLite connections (WAL:
// they never block the writer, and see the last commit). Writes are writer_tasks: each runs in
// one IMMEDIATE transaction with synchronous=FULL, and after its COMMIT publishes an admin_event
// to the store's listeners (the local delivery agent, the outbound scheduler).
class queue_admin {
public:
    static constexpr std::size_t max_header_bytes = 16 * 1024;
    static constexpr int max_limit = 1000;
    // The reply recorded on recipients bounced by hand.
    static constexpr const char* bounce_reply = "550 5.0.0 Bounced by the administrator";
    static constexpr const char* delete_reply = "deleted by admin";

    queue_admin(store& s, std::filesystem::path queue_db, std::size_t read_connections = 2);
    ~queue_admin();
    queue_admin(const queue_admin&) = delete;
    queue_admin& operator=(const queue_admin&) = delete;

    list_result list(const list_filter& f);
    std::optional<message_detail> show(const std::string& queue_id);
    queue_counts counts();
    std::vector<log_row> search_log(const log_query& q); // newest first
    std::vector<suppression_row> suppressions(int limit, int offset);
    log_stats stats(std::int64_t now);
    bounce_report bounces(const bounce_query& q);

    // Each throws admin_error when the message is not in the queue.
    action_result hold(const std::string& queue_id);
    action_result release(const std::string& queue_id);
    // next_attempt_at = now for its 'queued' and 'deferred' recipients.
    action_result retry(const std::string& queue_id);
    // Removes the message and its recipients; a delivery_log row (result 'failed', reply
    // delete_reply) for every recipient that was not delivered.
    action_result remove(const std::string& queue_id);
    // Undelivered recipients → 'failed' with bounce_reply and a delivery_log row 'bounced'.
    // The message stays (dsn_sent = 0) for the DSN to the sender (admin_event bounced).
    action_result bounce(const std::string& queue_id);

    // Returns false when the address was already listed (its row is left as it was).
    bool suppress(const std::string& address, const std::string& reason);
    // Returns false when the address was not listed.
    bool unsuppress(const std::string& address);

private:
    struct reader;
    std::unique_ptr<reader> acquire();
    void give_back(std::unique_ptr<reader> r);
    template <class T, class F> T read(F&& fn);
    template <class T, class F> T write(F&& fn);

    store& store_;
    std::filesystem::path path_;
    std::size_t max_readers_;
    std::mutex mu_;
    std::vector<std::unique_ptr<reader>> idle_;
};

} // namespace cartero::queue
