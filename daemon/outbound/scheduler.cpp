// daemon/outbound/scheduler.cpp — due-time queue → per-destination ready queues → jobs;
// results → delivered / deferred (retry schedule) / failed (bounce), pauses on pushback.
#include "daemon/outbound/scheduler.hpp"

#include "core/log.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace cartero::outbound {

namespace net = boost::asio;

scheduler::scheduler(net::any_io_executor ex, transport& t, pacing_table pacing,
                     retry_schedule retry, scheduler_hooks hooks, clock_fn now)
    : ex_(ex), transport_(t), pacing_(std::move(pacing)), retry_(retry), hooks_(std::move(hooks)),
      now_(now ? std::move(now) : clock_fn([] { return static_cast<std::int64_t>(std::time(nullptr)); })),
      timer_(ex) {}

std::string scheduler::domain_of(const std::string& address) const {
    auto at = address.rfind('@');
    std::string d = at == std::string::npos ? std::string() : address.substr(at + 1);
    for (auto& c : d)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return d;
}

void scheduler::add(std::shared_ptr<outbound_message> m) {
    if (!m || m->rcpts.empty()) return;
    messages_[m->id] = m;
    pending_[m->id] += m->rcpts.size();
    std::int64_t earliest = INT64_MAX;
    for (std::size_t i = 0; i < m->rcpts.size(); ++i) {
        waiting_.emplace(m->rcpts[i].next_attempt_at, entry{m, i});
        earliest = std::min(earliest, m->rcpts[i].next_attempt_at);
    }
    schedule_tick(earliest);
}

void scheduler::hold(const std::string& id) { held_.insert(id); }

void scheduler::release(const std::string& id) {
    held_.erase(id);
    retry_now(id);
}

void scheduler::retry_now(const std::string& id) {
    // Re-key this message's waiting entries to "now".
    std::vector<entry> moved;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.msg->id == id) {
            moved.push_back(it->second);
            it = waiting_.erase(it);
        } else {
            ++it;
        }
    }
    const auto now = now_();
    for (auto& e : moved) waiting_.emplace(now, e);
    if (!moved.empty()) schedule_tick(now);
}

void scheduler::remove(const std::string& id) {
    for (auto it = waiting_.begin(); it != waiting_.end();)
        it = it->second.msg->id == id ? waiting_.erase(it) : std::next(it);
    for (auto& [key, q] : dests_)
        std::erase_if(q.ready, [&](const entry& e) { return e.msg->id == id; });
    messages_.erase(id);
    pending_.erase(id);
    held_.erase(id);
}

std::vector<destination_view> scheduler::destinations() const {
    std::vector<destination_view> out;
    for (const auto& [key, q] : dests_)
        out.push_back({q.dest->domain(), q.dest->source_ip(), q.ready.size(),
                       q.dest->connections(), q.dest->limits(), q.dest->pause()});
    return out;
}

void scheduler::set_pacing(pacing_table pacing) {
    pacing_ = std::move(pacing);
    for (auto& [key, q] : dests_) q.dest->set_limits(pacing_.limits_for(q.dest->domain()));
    net::post(ex_, [this] { tick(); });
}

std::size_t scheduler::pending_recipients() const {
    std::size_t n = waiting_.size();
    for (const auto& [key, q] : dests_) n += q.ready.size();
    return n;
}

void scheduler::stop() {
    stopped_ = true;
    timer_.cancel();
}

void scheduler::schedule_tick(std::int64_t at) {
    if (stopped_) return;
    const auto now = now_();
    at = std::max(at, now);
    if (timer_at_ != 0 && timer_at_ <= at) return; // an earlier tick is already due
    timer_at_ = at;
    timer_.expires_after(std::chrono::seconds(at - now));
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        timer_at_ = 0;
        tick();
    });
}

void scheduler::tick() {
    if (stopped_) return;
    const auto now = now_();
    // 1. Due recipients move to their destination's ready queue.
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
        entry e = waiting_.begin()->second;
        waiting_.erase(waiting_.begin());
        if (!messages_.count(e.msg->id)) continue; // removed meanwhile
        if (held_.count(e.msg->id)) {
            waiting_.emplace(now + 3600, e); // released → retry_now re-keys it
            continue;
        }
        const std::string domain = domain_of(e.msg->rcpts[e.rcpt].address);
        const std::string ip = hooks_.source_ip_for ? hooks_.source_ip_for(*e.msg) : std::string();
        const std::string key = domain + "|" + ip;
        auto& q = dests_[key];
        if (!q.dest) q.dest = std::make_unique<destination>(domain, ip, pacing_.limits_for(domain));
        q.ready.push_back(std::move(e));
    }
    // 2. Every destination with work starts what its limits allow.
    for (auto& [key, q] : dests_)
        if (!q.ready.empty()) start_jobs(q, now);
    // 3. Wake up for the next due recipient.
    if (!waiting_.empty()) schedule_tick(waiting_.begin()->first);
}

void scheduler::start_jobs(dest_queue& q, std::int64_t now) {
    auto& d = *q.dest;
    if (d.paused(now)) {
        schedule_tick(d.pause().until);
        return;
    }
    while (!q.ready.empty() && d.may_connect(now)) {
        delivery_job job;
        job.domain = d.domain();
        job.source_ip = d.source_ip();
        job.helo_name = hooks_.helo_for ? hooks_.helo_for(d.source_ip()) : std::string();
        const std::size_t max_messages = std::max<std::uint32_t>(1, d.limits().messages_per_connection);
        std::vector<entry> rest;
        bool out_of_tokens = false;
        for (auto& e : q.ready) {
            auto it = std::find_if(job.items.begin(), job.items.end(),
                                   [&](const delivery_job::item& i) { return i.msg == e.msg; });
            if (it != job.items.end()) {
                it->rcpts.push_back(e.rcpt); // same message, same domain: one transaction
                continue;
            }
            if (job.items.size() >= max_messages || out_of_tokens ||
                !d.take_message_token(static_cast<double>(now))) {
                out_of_tokens = out_of_tokens || job.items.size() < max_messages;
                rest.push_back(std::move(e));
                continue;
            }
            if (!e.msg->body && hooks_.load_body) e.msg->body = hooks_.load_body(e.msg->id);
            if (!e.msg->prepared && e.msg->body && hooks_.prepare) {
                e.msg->body = hooks_.prepare(*e.msg);
                e.msg->prepared = true;
            }
            job.items.push_back({e.msg, {e.rcpt}});
        }
        q.ready = std::move(rest);
        if (job.items.empty()) {
            schedule_tick(now + std::max<std::int64_t>(
                                    1, static_cast<std::int64_t>(d.seconds_until_token(now) + 0.999)));
            return;
        }
        d.connection_opened();
        ++in_flight_;
        const std::string key = d.domain() + "|" + d.source_ip();
        auto job_copy = job;
        transport_.deliver(std::move(job), [this, key, job_copy](std::vector<attempt_result> r) mutable {
            finish_job(key, std::move(job_copy), std::move(r));
        });
        if (out_of_tokens) {
            schedule_tick(now + std::max<std::int64_t>(
                                    1, static_cast<std::int64_t>(d.seconds_until_token(now) + 0.999)));
            return;
        }
    }
}

void scheduler::finish_job(const std::string& key, delivery_job job,
                           std::vector<attempt_result> results) {
    const auto now = now_();
    auto qit = dests_.find(key);
    if (in_flight_ > 0) --in_flight_;
    if (qit != dests_.end()) qit->second.dest->connection_closed();
    destination* d = qit != dests_.end() ? qit->second.dest.get() : nullptr;

    std::vector<recipient_outcome> outcomes;
    std::map<std::string, std::vector<recipient_outcome>> failed_by_message;
    std::vector<std::string> settled; // one entry per recipient that is done for good
    bool pushback = false;
    std::string pushback_reply, pushback_why;
    for (auto& item : job.items) {
        auto msg = std::const_pointer_cast<outbound_message>(item.msg);
        for (auto idx : item.rcpts) {
            auto& rc = msg->rcpts[idx];
            auto rit = std::find_if(results.begin(), results.end(),
                                    [&](const attempt_result& a) { return a.row_id == rc.row_id; });
            recipient_outcome o;
            if (rit != results.end()) {
                o.attempt = *rit;
            } else { // the transport forgot one: never lose it, try again later
                o.attempt.row_id = rc.row_id;
                o.attempt.answer = reply(451, "4.3.0", "Internal error: no result for recipient");
            }
            o.attempt.message_id = msg->id;
            o.attempt.recipient = rc.address;
            const auto& ans = o.attempt.answer;
            if (o.attempt.delivered) {
                o.kind = outcome_kind::delivered;
                if (d) d->delivered_ok();
            } else if (ans.permanent() && !o.attempt.connection_failed) {
                o.kind = outcome_kind::failed;
            } else {
                o.attempts = ++rc.attempts;
                auto next = retry_.next_attempt(msg->received_at, now, rc.attempts);
                if (!next) {
                    o.kind = outcome_kind::failed;
                    o.expired = true;
                } else {
                    o.kind = outcome_kind::deferred;
                    o.next_attempt_at = rc.next_attempt_at = *next;
                    waiting_.emplace(*next, entry{msg, idx});
                }
                if (!pushback && (o.attempt.connection_failed || means_slow_down(ans))) {
                    pushback = true;
                    pushback_reply = ans.summary();
                    pushback_why = o.attempt.connection_failed ? "connection failed"
                                                               : "remote asked to slow down";
                }
            }
            if (o.kind == outcome_kind::failed ||
                (o.kind == outcome_kind::delivered &&
                 rc.notify.find("SUCCESS") != std::string::npos)) // RFC 3461 §4.1
                failed_by_message[msg->id].push_back(o);
            if (o.kind != outcome_kind::deferred) settled.push_back(msg->id);
            outcomes.push_back(std::move(o));
        }
    }
    if (pushback && d) {
        d->pause_for(pushback_why, pushback_reply, now);
        log::warn("destination_paused", {{"domain", d->domain()}, {"source_ip", d->source_ip()},
                                         {"until", std::to_string(d->pause().until)},
                                         {"why", pushback_why}, {"reply", pushback_reply}});
    }
    if (hooks_.record) hooks_.record(outcomes);
    for (auto& [id, failed] : failed_by_message) {
        auto it = messages_.find(id);
        if (it != messages_.end() && !it->second->mail_from.empty() && hooks_.bounce)
            hooks_.bounce(*it->second, failed);
    }
    // Forget messages with nothing left to do (bodies go with them).
    for (const auto& id : settled) {
        auto it = pending_.find(id);
        if (it != pending_.end() && --it->second == 0) {
            pending_.erase(it);
            messages_.erase(id);
        }
    }
    // Messages waiting for a retry do not keep their bodies in memory (minutes to hours):
    // the next attempt reloads (and re-signs) them.
    if (hooks_.load_body)
        for (auto& item : job.items) {
            auto it = messages_.find(item.msg->id);
            if (it != messages_.end() && it->second->body) {
                it->second->body.reset();
                it->second->prepared = false;
            }
        }
    net::post(ex_, [this] { tick(); });
}

} // namespace cartero::outbound
