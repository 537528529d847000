// daemon/outbound/scheduler.hpp — decides what is delivered when: per-destination queues
// (recipient domain × source IP), pacing and automatic pauses, retries, expiry and bounces.
// In memory, rebuilt from queue.db at start; storage and SMTP are behind hooks/transport.
#pragma once

#include "daemon/outbound/destination.hpp"
#include "daemon/outbound/outbound_types.hpp"
#include "daemon/outbound/pacing.hpp"
#include "daemon/outbound/retry_schedule.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace cartero::outbound {

enum class outcome_kind { delivered, deferred, failed };

// What became of one recipient after an attempt; the store persists it (and writes the
// delivery-log row), the bounce hook turns failures into one DSN per message.
struct recipient_outcome {
    attempt_result attempt;
    outcome_kind kind = outcome_kind::deferred;
    std::int64_t next_attempt_at = 0; // deferred
    std::uint32_t attempts = 0;       // after this one
    bool expired = false;             // failed because the lifetime ran out
};

struct scheduler_hooks {
    // Source IP for a message (IP pools / sender routes); "" = let the kernel choose.
    std::function<std::string(const outbound_message&)> source_ip_for;
    // EHLO name for a source IP (its PTR name); called with "" for the default.
    std::function<std::string(const std::string& source_ip)> helo_for;
    // Persist outcomes: delivered recipients as soon as their transaction is accepted
    // (delivery_job::delivered_early), everything else once per job, in one batch.
    std::function<void(const std::vector<recipient_outcome>&)> record;
    // Failed recipients of one message in this run, and delivered ones whose NOTIFY asked for
    // SUCCESS (RFC 3461 §4.1) → one DSN (never for the null sender). The hook honours NOTIFY
    // for the failures (NEVER, or a list without FAILURE: none).
    std::function<void(const outbound_message&, const std::vector<recipient_outcome>&)> bounce;
    // Deferred recipients of one message that are older than retry_settings::delay_warning and
    // whose sender was not told yet → one "delayed" DSN (never for the null sender; only with
    // NOTIFY absent or containing DELAY). Called once per recipient.
    std::function<void(const outbound_message&, const std::vector<recipient_outcome>&)> delayed;
    // Loads a message body that is not in memory (recovered at start).
    std::function<std::shared_ptr<const std::string>(const std::string& queue_id)> load_body;
    // Turns the stored body into what is sent (DKIM signing), once per message.
    std::function<std::shared_ptr<const std::string>(const outbound_message&)> prepare;
};

struct destination_view {
    std::string domain, source_ip;
    std::size_t queued = 0;
    std::uint32_t connections = 0;
    pacing_limits limits;
    pause_state pause;
};

class scheduler {
public:
    using clock_fn = std::function<std::int64_t()>; // unix seconds (tests inject a clock)

    scheduler(boost::asio::any_io_executor ex, transport& t, pacing_table pacing,
              retry_schedule retry, scheduler_hooks hooks, clock_fn now = {});

    // A message with remote recipients: new (from the group commit) or recovered at start.
    void add(std::shared_ptr<outbound_message> m);
    // Queue control: held messages are skipped until released; retry makes them due now;
    // remove forgets them (deleted or bounced by the admin).
    void hold(const std::string& queue_id);
    void release(const std::string& queue_id);
    void retry_now(const std::string& queue_id);
    void remove(const std::string& queue_id);

    // New pacing rules (config.db changed): every known destination takes its new limits at
    // once (connections already open finish their job), and waiting work is re-examined.
    void set_pacing(pacing_table pacing);

    std::vector<destination_view> destinations() const;
    std::size_t pending_recipients() const;
    // Any thread may ask (carterod's drain runs on the main io thread, the scheduler on the
    // outbound one).
    std::size_t jobs_in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
    void stop(); // no new jobs; jobs in flight finish
    // Moves due work into jobs. Normally driven by the scheduler's own timer; public so that
    // tests with an injected clock can step it.
    void tick();

private:
    struct entry {
        std::shared_ptr<outbound_message> msg;
        std::size_t rcpt = 0;
    };
    struct dest_queue {
        std::unique_ptr<destination> dest;
        std::vector<entry> ready; // due now, waiting for a connection slot or a rate token
    };

    std::string domain_of(const std::string& address) const;
    void schedule_tick(std::int64_t at);
    void start_jobs(dest_queue& q, std::int64_t now);
    void learn_mx_host(const std::string& key, const std::string& mx_host);
    std::vector<delivery_job::item> take_ready(dest_queue& q, std::size_t max_messages,
                                               std::int64_t now, bool& out_of_tokens);
    std::vector<delivery_job::item> refill(const std::string& key, delivery_job& state);
    bool wake_idle(const std::string& key);
    // A recipient of a job: (queue id, recipients.id). queue.db reuses the id of a deleted row,
    // so one job (a reused connection) can hold two recipients with the same row id.
    using row_key = std::pair<std::string, std::int64_t>;
    void record_early(const std::vector<delivery_job::item>& items, std::set<row_key>& early,
                      std::vector<attempt_result> results);
    void finish_job(const std::string& key, const delivery_job& job, std::vector<attempt_result> results,
                    const std::set<row_key>& recorded_early);

    boost::asio::any_io_executor ex_;
    transport& transport_;
    pacing_table pacing_;
    retry_schedule retry_;
    scheduler_hooks hooks_;
    clock_fn now_;
    boost::asio::steady_timer timer_;
    std::int64_t timer_at_ = 0;
    bool stopped_ = false;
    std::atomic<std::size_t> in_flight_{0};

    std::multimap<std::int64_t, entry> waiting_;  // by due time
    std::map<std::string, dest_queue> dests_;     // by "domain|source_ip"
    // A message whose body could not be loaded is looked at again after this long.
    static constexpr std::int64_t body_retry_seconds = 300;
    std::map<std::string, std::shared_ptr<outbound_message>> messages_; // by queue id

public:
    // Has this message recipients in the scheduler (waiting, ready or in flight)?
    bool knows(const std::string& queue_id) const { return messages_.count(queue_id) != 0; }

private:
    std::map<std::string, std::size_t> pending_; // recipients not yet delivered or failed
    std::set<std::string> held_;
    // Parked connections per destination (delivery_job::park), woken for new work.
    std::map<std::string, std::vector<std::weak_ptr<std::function<void()>>>> idle_;
};

} // namespace cartero::outbound
