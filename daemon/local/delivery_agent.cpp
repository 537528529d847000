// daemon/local/delivery_agent.cpp — worker threads that deliver local recipients into Maildirs.
#include "daemon/local/delivery_agent.hpp"

#include "core/log.hpp"
#include "daemon/local/maildir_writer.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace cartero::local {

namespace {

using clock = std::chrono::steady_clock;

struct job {
    std::shared_ptr<const queue::message> msg; // keeps the body in memory until delivered
    std::size_t rcpt = 0;                       // index into msg->rcpts
    std::int64_t row_id = 0;
    bool redelivery = false;
    clock::time_point not_before{};
};

class agent final : public delivery_agent {
public:
    agent(queue::store& store, delivery_settings s) : store_(store), settings_(std::move(s)) {
        if (settings_.workers == 0) settings_.workers = 1;
        if (settings_.max_batch == 0) settings_.max_batch = 1;
        for (unsigned i = 0; i < settings_.workers; ++i)
            workers_.push_back(std::make_unique<worker>(settings_.hostname));
    }

    ~agent() override { stop(); }

    void begin() {
        for (auto& w : workers_) w->thread = std::thread([this, p = w.get()] { run(*p); });
        // Hook first, then recovery: a message committed in between reaches us through both,
        // and every hook call for it has run before load_pending_local returns (both happen on
        // the store's writer thread, in order) — so remembering the hook's rows until the
        // recovery list is in removes every duplicate; nothing falls between the two.
        {
            std::lock_guard lk(track_mu_);
            tracking_ = true;
        }
        // Queue control (hold, release, retry, delete, bounce): recovery skips held messages
        // (the store's query), and these events keep the in-memory work in line.
        admin_token_ = store_.add_admin_listener([this](const queue::admin_event& e) { on_admin(e); });
        store_.set_on_committed(
            [this](std::shared_ptr<const queue::message> m, std::vector<std::int64_t> ids) {
                on_committed(std::move(m), ids);
            });
        std::vector<queue::pending_message> pending;
        try {
            pending = store_.load_pending_local();
        } catch (...) {
            stop();
            throw;
        }
        std::size_t n = 0;
        {
            std::lock_guard lk(track_mu_);
            for (auto& p : pending)
                for (std::size_t i = 0; i < p.msg->rcpts.size(); ++i) {
                    if (seen_.count(p.row_ids[i])) continue;
                    dispatch({p.msg, i, p.row_ids[i], true, {}});
                    ++n;
                }
            tracking_ = false;
            seen_.clear();
        }
        log::info("local_delivery_started", {{"workers", std::to_string(workers_.size())},
                                             {"recovered", std::to_string(n)}});
    }

    void stop() override {
        if (stopped_.exchange(true)) return;
        store_.set_on_committed(nullptr);
        store_.remove_admin_listener(admin_token_);
        for (auto& w : workers_) {
            {
                std::lock_guard lk(w->mu);
                w->stopping = true;
            }
            w->cv.notify_all();
        }
        for (auto& w : workers_)
            if (w->thread.joinable()) w->thread.join();
    }

    bool wait_idle(std::chrono::milliseconds timeout) override {
        const auto deadline = clock::now() + timeout;
        for (auto& w : workers_) {
            std::unique_lock lk(w->mu);
            if (!w->idle_cv.wait_until(lk, deadline, [&] { return w->ready.empty() && !w->busy; }))
                return false;
        }
        return true;
    }

    std::uint64_t delivered() const override { return delivered_.load(); }
    std::uint64_t deferred() const override { return deferred_.load(); }

private:
    struct worker {
        explicit worker(const std::string& host) : writer(host) {}
        std::mutex mu;
        std::condition_variable cv, idle_cv;
        std::deque<job> ready;
        std::vector<job> delayed; // temporary failures waiting for not_before
        bool busy = false;
        bool stopping = false;
        maildir_writer writer; // used by this worker's thread only
        std::thread thread;
    };

    // Runs on the store's writer thread: only hands the work over.
    void on_committed(std::shared_ptr<const queue::message> m, const std::vector<std::int64_t>& ids) {
        std::lock_guard lk(track_mu_);
        for (std::size_t i = 0; i < m->rcpts.size() && i < ids.size(); ++i) {
            if (m->rcpts[i].kind != queue::rcpt_kind::local) continue;
            if (tracking_) seen_.insert(ids[i]);
            dispatch({m, i, ids[i], false, {}});
        }
    }

    // Runs on the store's writer thread after an admin change is committed. Held, deleted and
    // bounced messages leave the worker queues (a delivery already being written finishes);
    // released and retried ones are queued again from the store's fresh list of what is due.
    void on_admin(const queue::admin_event& e) {
        for (auto& w : workers_) {
            std::lock_guard lk(w->mu);
            auto of_message = [&](const job& j) { return j.msg->id == e.queue_id; };
            std::erase_if(w->ready, of_message);
            std::erase_if(w->delayed, of_message);
        }
        if (e.action != queue::admin_action::released && e.action != queue::admin_action::retried)
            return;
        for (const auto& p : e.local_pending)
            for (std::size_t i = 0; i < p.msg->rcpts.size() && i < p.row_ids.size(); ++i)
                dispatch({p.msg, i, p.row_ids[i], true, {}}); // redelivery: the writer dedups
    }

    // One Maildir, one worker: no two threads write the same maildirsize or race on one name.
    void dispatch(job j) {
        // By the mailbox root: its Junk folder shares the root's maildirsize.
        auto& w = *workers_[std::hash<std::string>{}(
                                maildir_root(j.msg->rcpts[j.rcpt].maildir).string()) %
                            workers_.size()];
        {
            std::lock_guard lk(w.mu);
            w.ready.push_back(std::move(j));
        }
        w.cv.notify_one();
    }

    void run(worker& w) {
        std::vector<job> batch;
        for (;;) {
            {
                std::unique_lock lk(w.mu);
                for (;;) {
                    if (w.stopping) return; // queued jobs stay 'queued' in queue.db
                    const auto now = clock::now();
                    auto due = clock::time_point::max();
                    for (auto it = w.delayed.begin(); it != w.delayed.end();) {
                        if (it->not_before <= now) {
                            w.ready.push_back(std::move(*it));
                            it = w.delayed.erase(it);
                        } else {
                            due = std::min(due, it->not_before);
                            ++it;
                        }
                    }
                    if (!w.ready.empty()) break;
                    w.idle_cv.notify_all();
                    if (due == clock::time_point::max()) w.cv.wait(lk);
                    else w.cv.wait_until(lk, due);
                }
                while (!w.ready.empty() && batch.size() < settings_.max_batch) {
                    batch.push_back(std::move(w.ready.front()));
                    w.ready.pop_front();
                }
                w.busy = true;
            }
            deliver_batch(w, batch);
            batch.clear();
            {
                std::lock_guard lk(w.mu);
                w.busy = false;
            }
            w.idle_cv.notify_all();
        }
    }

    void deliver_batch(worker& w, std::vector<job>& batch) {
        std::vector<delivery_outcome> outs;
        outs.reserve(batch.size());
        for (const auto& j : batch) {
            const auto& m = *j.msg;
            const auto& r = m.rcpts[j.rcpt];
            delivery_request req;
            req.queue_id = m.id;
            req.row_id = j.row_id;
            req.received_at = m.received_at;
            req.mail_from = m.mail_from;
            req.deliver_to = r.deliver_to;
            req.maildir = r.maildir;
            req.quota_bytes = r.quota_bytes;
            req.body = m.body;
            req.redelivery = j.redelivery;
            outs.push_back(w.writer.deliver(req));
        }
        // One fsync per new/ directory for the whole batch; only then is anything delivered.
        const auto failed_dirs = w.writer.flush();
        std::vector<std::int64_t> done;
        const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto& j = batch[i];
            auto& o = outs[i];
            const auto& r = j.msg->rcpts[j.rcpt];
            const bool written = o.status == delivery_status::delivered ||
                                 o.status == delivery_status::duplicate;
            if (written) {
                bool dir_failed = false;
                for (const auto& d : failed_dirs) dir_failed |= d == std::filesystem::path(r.maildir);
                if (dir_failed) {
                    o.status = delivery_status::failed;
                    o.reply = reply(451, "4.3.0", "Maildir write failed: fsync of new/ failed");
                }
            }
            const std::string size = std::to_string(o.size);
            switch (o.status) {
            case delivery_status::delivered:
            case delivery_status::duplicate:
                done.push_back(j.row_id);
                ++delivered_;
                if (o.status == delivery_status::delivered)
                    log::info("delivered", {{"queue_id", j.msg->id}, {"to", r.deliver_to},
                                            {"maildir", r.maildir}, {"size", size}});
                else
                    log::info("delivered", {{"queue_id", j.msg->id}, {"to", r.deliver_to},
                                            {"maildir", r.maildir}, {"size", size},
                                            {"note", "already in maildir"}});
                break;
            case delivery_status::over_quota: {
                ++deferred_;
                const std::string text = o.reply.summary();
                log::info("deferred", {{"queue_id", j.msg->id}, {"to", r.deliver_to},
                                       {"maildir", r.maildir}, {"size", size}, {"reply", text}});
                store_.mark_deferred(j.row_id, text, 0); // waits for the bounce machinery
                break;
            }
            case delivery_status::failed: {
                ++deferred_;
                const std::string text = o.reply.summary();
                log::warn("deferred", {{"queue_id", j.msg->id}, {"to", r.deliver_to},
                                       {"maildir", r.maildir}, {"size", size}, {"reply", text}});
                store_.mark_deferred(j.row_id, text, now_unix + settings_.retry_after.count());
                j.redelivery = true;
                j.not_before = clock::now() + settings_.retry_after;
                std::lock_guard lk(w.mu);
                w.delayed.push_back(std::move(j));
                break;
            }
            }
        }
        if (!done.empty()) store_.mark_delivered(std::move(done));
    }

    queue::store& store_;
    delivery_settings settings_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::mutex track_mu_;
    bool tracking_ = false;
    std::unordered_set<std::int64_t> seen_;
    std::atomic<bool> stopped_{false};
    std::uint64_t admin_token_ = 0;
    std::atomic<std::uint64_t> delivered_{0}, deferred_{0};
};

} // namespace

std::unique_ptr<delivery_agent> delivery_agent::start(queue::store& store, delivery_settings s) {
    auto a = std::make_unique<agent>(store, std::move(s));
    a->begin();
    return a;
}

} // namespace cartero::local
