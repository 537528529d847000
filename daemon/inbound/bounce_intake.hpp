// daemon/inbound/bounce_intake.hpp — asynchronous bounces (DESIGN.md flow 4): a report that came
// back to a VERP address is classified and linked to the original message and recipient in
// queue.db, on the queue's writer thread.
#pragma once

#include "daemon/bounce/dsn_parser.hpp"
#include "daemon/bounce/verp.hpp"
#include "daemon/queue/queue_store.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <cstdint>
#include <memory>
#include <string>

struct sqlite3;

namespace cartero::inbound {

struct intake_result {
    std::string error;        // SQLite failure ("" = recorded, or nothing to record)
    bool linked = false;      // the original message/recipient was found (queue.db or the log)
    bool recorded = false;    // a bounces row (and delivery_log row) was written
    bool suppressed = false;  // the recipient went on the suppression list
    std::string queue_id;     // the original message
    std::string recipient;    // the original recipient (deliver_to)
    std::string sender;       // the original envelope sender ("" = null sender / unknown)
    std::string action;       // the report's Action for that recipient: failed, delayed, …
    std::string bounce_class; // "invalid-recipient", …
    bool hard = false;
    std::string reply;        // what was stored: "<status> <diagnostic>"
};

// The writer-thread part, one transaction: finds the original recipient of `ref` (its
// recipients row while the message is queued, else its delivery_log rows — a message leaves
// queue.db once delivered, and asynchronous bounces come after that), picks the report's entry
// for it, and for a failed or delayed entry writes a bounces row (source 'async'), a
// delivery_log row ('bounced' for failed, 'deferred' for delayed) and, for a hard
// invalid-recipient failure, a suppression row. Reports of other actions (delivered, relayed,
// expanded) and unlinked ones are recorded nowhere. Never throws (error is set instead).
intake_result record_async_bounce(sqlite3* db, const bounce::verp_ref& ref,
                                  const bounce::parsed_bounce& report, std::int64_t now);

// record_async_bounce on the writer thread, completing on the awaiting coroutine's executor.
template <class Token>
auto async_record_bounce(queue::store& store, bounce::verp_ref ref,
                         std::shared_ptr<const bounce::parsed_bounce> report, std::int64_t now,
                         Token&& token) {
    using signature = void(intake_result);
    return boost::asio::async_initiate<Token, signature>(
        [&store, now](auto handler, bounce::verp_ref r,
                      std::shared_ptr<const bounce::parsed_bounce> rep) {
            auto ex = boost::asio::get_associated_executor(handler);
            using handler_t = decltype(handler);
            auto h = std::make_shared<handler_t>(std::move(handler));
            auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
            auto result = std::make_shared<intake_result>();
            bool queued = store.run_on_writer([h, work, r, rep, now, result](sqlite3* db) {
                *result = record_async_bounce(db, r, *rep, now);
                boost::asio::post(work->get_executor(), [h, work, result]() {
                    (*h)(std::move(*result));
                    work->reset();
                });
            });
            if (!queued) {
                result->error = "queue is stopped";
                boost::asio::post(work->get_executor(), [h, work, result]() {
                    (*h)(std::move(*result));
                    work->reset();
                });
            }
        },
        token, std::move(ref), std::move(report));
}

} // namespace cartero::inbound
