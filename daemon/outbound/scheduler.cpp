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

namespace {
// RFC 3461 §4.1: a delay report only when NOTIFY asks for DELAY, or when it is absent (the
// MTA's choice; Cartero's is to warn, as delay_warning_time is set). NEVER: none.
bool wants_delay_dsn(std::string notify) {
    for (auto& c : notify)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (notify.empty()) return true;
    return notify.find("NEVER") == std::string::npos && notify.find("DELAY") != std::string::npos;
}

// Messages one connection carries before QUIT (messages_per_connection, at least one).
std::size_t connection_cap(const destination& d) {
    return std::max<std::uint32_t>(1, d.limits().messages_per_connection);
}
} // namespace

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
    for (auto& [key, q] : dests_)
        q.dest->set_limits(pacing_.limits_for(q.dest->domain(), q.dest->mx_host()));
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
    for (auto& [key, list] : idle_) // parked connections QUIT now
        for (auto& w : list)
            if (auto wake = w.lock()) (*wake)();
    idle_.clear();
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
        if (!q.ready.empty() && !wake_idle(key)) start_jobs(q, now);
    // 3. Wake up for the next due recipient.
    if (!waiting_.empty()) schedule_tick(waiting_.begin()->first);
}

void scheduler::start_jobs(dest_queue& q, std::int64_t now) {
    auto& d = *q.dest;
    if (d.paused(now)) {
        schedule_tick(d.pause().until);
        return;
    }
    // A new destination probes with one connection until its MX host is known (an `mx:` rule
    // may set lower limits than the domain's); learn_mx_host ticks again.
    while (!q.ready.empty() && d.may_connect(now) && (d.mx_known() || d.connections() == 0)) {
        auto state = std::make_shared<delivery_job>(); // the scheduler's view of the job
        state->domain = d.domain();
        state->source_ip = d.source_ip();
        state->helo_name = hooks_.helo_for ? hooks_.helo_for(d.source_ip()) : std::string();
        bool out_of_tokens = false;
        state->items = take_ready(q, connection_cap(d),
                                  now, out_of_tokens);
        if (state->items.empty()) {
            schedule_tick(now + std::max<std::int64_t>(
                                    1, static_cast<std::int64_t>(d.seconds_until_token(now) + 0.999)));
            return;
        }
        d.connection_opened();
        ++in_flight_;
        const std::string key = d.domain() + "|" + d.source_ip();
        auto early = std::make_shared<std::set<row_key>>(); // rows already recorded
        delivery_job job = *state;
        job.delivered_early = [this, state, early](std::vector<attempt_result> r) {
            record_early(state->items, *early, std::move(r));
        };
        job.next_hop_known = [this, key](const std::string& mx_host) { learn_mx_host(key, mx_host); };
        job.refill = [this, key, state] { return refill(key, *state); };
        job.park = [this, key, state](std::weak_ptr<std::function<void()>> wake) {
            auto it = dests_.find(key);
            if (stopped_ || it == dests_.end()) return false;
            // Used up: parked, it would hold a connection slot that a fresh connection needs
            // while the ready queue waits (measured: 2 s stalls after every 100 messages).
            if (state->items.size() >= connection_cap(*it->second.dest)) return false;
            idle_[key].push_back(std::move(wake));
            return true;
        };
        transport_.deliver(std::move(job), [this, key, state, early](std::vector<attempt_result> r) {
            finish_job(key, *state, std::move(r), *early);
        });
        if (out_of_tokens) {
            schedule_tick(now + std::max<std::int64_t>(
                                    1, static_cast<std::int64_t>(d.seconds_until_token(now) + 0.999)));
            return;
        }
    }
}

// Up to max_messages messages (all their recipients of this destination in one item: one
// transaction) from the ready queue, one rate token each; bodies loaded and signed.
std::vector<delivery_job::item> scheduler::take_ready(dest_queue& q, std::size_t max_messages,
                                                      std::int64_t now, bool& out_of_tokens) {
    auto& d = *q.dest;
    std::vector<delivery_job::item> items;
    std::vector<entry> rest;
    for (auto& e : q.ready) {
        auto it = std::find_if(items.begin(), items.end(),
                               [&](const delivery_job::item& i) { return i.msg == e.msg; });
        if (it != items.end()) {
            it->rcpts.push_back(e.rcpt); // same message, same domain: one transaction
            continue;
        }
        if (items.size() >= max_messages || out_of_tokens ||
            !d.take_message_token(static_cast<double>(now))) {
            out_of_tokens = out_of_tokens || items.size() < max_messages;
            rest.push_back(std::move(e));
            continue;
        }
        if (!e.msg->body && hooks_.load_body) {
            e.msg->body = hooks_.load_body(e.msg->id);
            // Gone (deleted meanwhile) or unreadable (logged by the loader): never send an
            // empty message in its place. Still known (not deleted): look again later — an
            // administrator may restore the file, a read error may pass; the recipient stays
            // queued in queue.db meanwhile.
            if (!e.msg->body) {
                if (messages_.count(e.msg->id)) {
                    waiting_.emplace(now + body_retry_seconds, std::move(e));
                    schedule_tick(now + body_retry_seconds);
                }
                continue;
            }
        }
        if (!e.msg->prepared && e.msg->body && hooks_.prepare) {
            e.msg->body = hooks_.prepare(*e.msg);
            e.msg->prepared = true;
        }
        items.push_back({e.msg, {e.rcpt}});
    }
    q.ready = std::move(rest);
    return items;
}

// A connection of this destination finished its work: more for it, within its
// messages_per_connection (the job's state grows, so finish_job sees every item).
std::vector<delivery_job::item> scheduler::refill(const std::string& key, delivery_job& state) {
    auto it = dests_.find(key);
    if (stopped_ || it == dests_.end()) return {};
    auto& q = it->second;
    const auto now = now_();
    const std::size_t cap = connection_cap(*q.dest);
    if (q.ready.empty() || q.dest->paused(now) || state.items.size() >= cap) return {};
    bool out_of_tokens = false;
    auto more = take_ready(q, cap - state.items.size(), now, out_of_tokens);
    state.items.insert(state.items.end(), more.begin(), more.end());
    if (!q.ready.empty()) net::post(ex_, [this] { tick(); }); // the rest: other connections
    return more;
}

// New work for a destination with a parked connection: wake that one instead of opening
// another. True when one was woken.
bool scheduler::wake_idle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return false;
    auto& list = it->second;
    while (!list.empty()) {
        auto wake = list.back().lock();
        list.pop_back();
        if (wake) {
            (*wake)();
            return true;
        }
    }
    idle_.erase(it);
    return false;
}

void scheduler::learn_mx_host(const std::string& key, const std::string& mx_host) {
    auto it = dests_.find(key);
    if (it == dests_.end()) return;
    auto& d = *it->second.dest;
    if (d.mx_known() && d.mx_host() == mx_host) return;
    d.set_mx_host(mx_host);
    d.set_limits(pacing_.limits_for(d.domain(), mx_host));
    net::post(ex_, [this] { tick(); });
}

// A transaction of a running job was accepted: persist its recipients now (the rest of the
// job's bookkeeping waits for the job's end), so a crash repeats only what was in flight.
void scheduler::record_early(const std::vector<delivery_job::item>& items,
                             std::set<row_key>& early, std::vector<attempt_result> results) {
    std::vector<recipient_outcome> outcomes;
    for (auto& a : results) {
        if (!a.delivered) continue;
        for (const auto& item : items)
            for (auto idx : item.rcpts)
                if (item.msg->rcpts[idx].row_id == a.row_id &&
                    (a.message_id.empty() || a.message_id == item.msg->id) &&
                    early.insert({item.msg->id, a.row_id}).second) {
                    recipient_outcome o;
                    o.attempt = a;
                    o.attempt.message_id = item.msg->id;
                    o.attempt.recipient = item.msg->rcpts[idx].address;
                    o.kind = outcome_kind::delivered;
                    outcomes.push_back(std::move(o));
                }
    }
    if (!outcomes.empty() && hooks_.record) hooks_.record(outcomes);
}

void scheduler::finish_job(const std::string& key, const delivery_job& job,
                           std::vector<attempt_result> results,
                           const std::set<row_key>& recorded_early) {
    const auto now = now_();
    auto qit = dests_.find(key);
    if (in_flight_ > 0) --in_flight_;
    if (qit != dests_.end()) qit->second.dest->connection_closed();
    destination* d = qit != dests_.end() ? qit->second.dest.get() : nullptr;
    if (d && !d->mx_known()) d->set_mx_host(""); // the transport did not say: stop probing

    std::vector<recipient_outcome> outcomes;
    std::map<std::string, std::vector<recipient_outcome>> failed_by_message, delayed_by_message;
    const auto warn_after = retry_.settings().delay_warning.count();
    std::vector<std::string> settled; // one entry per recipient that is done for good
    bool pushback = false;
    std::string pushback_reply, pushback_why;
    for (auto& item : job.items) {
        auto msg = std::const_pointer_cast<outbound_message>(item.msg);
        for (auto idx : item.rcpts) {
            auto& rc = msg->rcpts[idx];
            auto rit = std::find_if(results.begin(), results.end(),
                                    [&](const attempt_result& a) {
                                        return a.row_id == rc.row_id &&
                                               (a.message_id.empty() || a.message_id == msg->id);
                                    });
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
            if (o.kind == outcome_kind::deferred && warn_after > 0 && !rc.delay_dsn_sent &&
                !msg->mail_from.empty() && now - msg->received_at >= warn_after &&
                wants_delay_dsn(rc.notify)) {
                rc.delay_dsn_sent = true; // once per recipient, whatever becomes of the DSN
                delayed_by_message[msg->id].push_back(o);
            }
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
    if (hooks_.record) {
        std::erase_if(outcomes, [&](const recipient_outcome& o) {
            return o.kind == outcome_kind::delivered && recorded_early.count({o.attempt.message_id, o.attempt.row_id});
        });
        if (!outcomes.empty()) hooks_.record(outcomes);
    }
    for (auto& [id, failed] : failed_by_message) {
        auto it = messages_.find(id);
        if (it != messages_.end() && !it->second->mail_from.empty() && hooks_.bounce)
            hooks_.bounce(*it->second, failed);
    }
    if (hooks_.delayed)
        for (auto& [id, delayed] : delayed_by_message)
            if (auto it = messages_.find(id); it != messages_.end()) hooks_.delayed(*it->second, delayed);
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
