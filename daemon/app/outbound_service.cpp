// daemon/app/outbound_service.cpp — outbound wiring: hooks between the scheduler, queue.db,
// config.db and the bounce machinery.
#include "daemon/app/outbound_service.hpp"

#include "core/address_norm.hpp"
#include "core/dkim_store.hpp"
#include "core/log.hpp"
#include "core/sending_store.hpp"
#include "daemon/bounce/dsn_builder.hpp"
#include "daemon/bounce/verp.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <future>

namespace cartero::app {

namespace net = boost::asio;
using namespace cartero::outbound;

outbound_service::outbound_service(net::io_context& io, queue::store& store,
                                   const config::daemon_settings& settings,
                                   dns::resolver& resolver, route_fn route)
    : io_(io), store_(store), hostname_(settings.hostname), route_(std::move(route)),
      resolver_(resolver), client_tls_(net::ssl::context::tls_client), ostore_(store), relayhost_flag_(settings.relayhost),
      delay_warning_(settings.delay_warning_time) {
    // Opportunistic STARTTLS (RFC 3207 as MTAs use it): encrypt when offered, do not verify
    // the certificate (MTA-STS/DANE will add verification per destination). TLS ≥ 1.2.
    client_tls_.set_verify_mode(net::ssl::verify_none);
    SSL_CTX_set_min_proto_version(client_tls_.native_handle(), TLS1_2_VERSION);
}

outbound_service::~outbound_service() {
    if (admin_token_) store_.remove_admin_listener(admin_token_);
}

std::string outbound_service::pick_source_ip(const outbound_message& m) const {
    if (source_ips_.empty()) return {};
    // Spread messages over the pool's addresses, stable per message (retries keep their IP).
    const std::size_t stable = std::hash<std::string>{}(m.id);
    // Sender routes (DESIGN.md flow 3): the envelope sender's address, then its domain (and
    // ".parent" subdomain routes), then the submitting account's address and domain; then the pool "default"; else every
    // outbound IP. A route to a pool without outbound IPs is passed over.
    std::vector<std::string> keys;
    for (const std::string* who : {&m.mail_from, &m.auth_user}) {
        if (who->empty()) continue;
        auto n = names::normalize_address(*who);
        std::string a = n ? n.value : names::ascii_lower(*who);
        auto at = a.rfind('@');
        if (at != std::string::npos) {
            keys.push_back(a);
            const std::string domain = a.substr(at + 1);
            keys.push_back(domain);
            // Subdomain routes: ".example.com" for every subdomain of example.com, the
            // nearest parent first.
            for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1))
                keys.push_back(domain.substr(dot));
        } else {
            keys.push_back(a); // an account name that is not an address
        }
    }
    auto from_pool = [&](const std::string& pool) -> std::string {
        auto it = pool_ips_.find(pool);
        if (it == pool_ips_.end() || it->second.empty()) return {};
        return it->second[stable % it->second.size()];
    };
    for (const auto& k : keys)
        if (auto r = sender_pools_.find(k); r != sender_pools_.end())
            if (auto ip = from_pool(r->second); !ip.empty()) return ip;
    if (auto ip = from_pool("default"); !ip.empty()) return ip;
    return source_ips_[stable % source_ips_.size()].first;
}

std::vector<destination_view>
outbound_service::destinations_from_other_thread(std::chrono::milliseconds timeout) const {
    auto done = std::make_shared<std::promise<std::vector<destination_view>>>();
    auto result = done->get_future();
    net::post(io_, [this, done] {
        done->set_value(sched_ ? sched_->destinations() : std::vector<destination_view>{});
    });
    if (result.wait_for(timeout) != std::future_status::ready)
        throw std::runtime_error("carterod's scheduler did not answer (stopping?)");
    return result.get();
}

// DESIGN.md flow 4: mail whose envelope sender is at one of our domains (authenticated
// submitters, who may only send as their own addresses, and trusted-network clients) leaves
// with bounces+TOKEN@<that domain>, one transaction per recipient; the token names the queue id
// and recipients row, so a DSN that comes back later is linked to them. The sender stays in
// queue.db: DSNs built here still go to it. Null-sender mail (DSNs) keeps <>.
std::string outbound_service::return_path(const outbound_message& m,
                                          const outbound_recipient& r) const {
    if (verp_key_.empty() || m.mail_from.empty() || r.row_id <= 0) return {};
    const auto at = m.mail_from.rfind('@');
    if (at == std::string::npos) return {};
    const std::string domain = names::ascii_lower(m.mail_from.substr(at + 1));
    if (!local_domains_.count(domain)) return {};
    try {
        return bounce::verp_address({m.id, static_cast<std::uint64_t>(r.row_id)}, verp_key_,
                                    domain);
    } catch (const std::exception&) {
        return {}; // a queue id of another shape (never from new_queue_id): no VERP
    }
}

void outbound_service::reload(config::config_db& cfg) {
    try {
        // Read everything first: a failure leaves the previous configuration in force.
        auto keys = config::list_dkim_keys(cfg);
        std::set<std::string> domains;
        for (const auto& d : cfg.list_domains()) domains.insert(d.name);
        std::vector<std::pair<std::string, std::string>> ips;
        std::map<std::string, std::vector<std::string>> pools;
        for (const auto& ip : config::list_ips(cfg))
            if (!ip.pool.empty()) {
                ips.emplace_back(ip.address, ip.hostname);
                pools[ip.pool].push_back(ip.address);
            }
        std::map<std::string, std::string> senders;
        for (const auto& r : config::list_sender_routes(cfg)) senders[r.sender] = r.pool;
        std::vector<pacing_rule> rules;
        for (const auto& r : config::list_pacing_rules(cfg)) {
            auto u32 = [](const std::optional<std::int64_t>& v) -> std::optional<std::uint32_t> {
                if (!v) return std::nullopt;
                return static_cast<std::uint32_t>(*v);
            };
            rules.push_back({r.pattern, u32(r.max_connections), u32(r.messages_per_minute),
                             u32(r.messages_per_connection), r.note});
        }
        smtp_transport_settings ts;
        if (relayhost_flag_) { // --relayhost wins over every route in config.db
            ts.relayhost = next_hop{relayhost_flag_->host, relayhost_flag_->port, false, std::nullopt};
        } else {
            for (const auto& r : config::list_transport_routes(cfg)) {
                next_hop h{r.next_hop, r.port, r.require_tls, std::nullopt};
                if (!r.auth_username.empty()) {
                    try {
                        h.auth = smtp::client_credentials{r.auth_username,
                                                          config::read_transport_secret(r)};
                    } catch (const std::exception& e) {
                        // Still through this hop (never straight to the MX), without AUTH:
                        // the relay's refusal is recorded per recipient.
                        log::error("transport_secret_unreadable",
                                   {{"destination", r.destination}, {"error", e.what()}});
                        h.require_tls = true;
                    }
                }
                if (r.destination == "*") ts.relayhost = std::move(h);
                else ts.routes[r.destination] = std::move(h);
            }
        }
        ts.return_path = [this](const outbound_message& m, const outbound_recipient& r) {
            return return_path(m, r);
        };
        signing_.reload(std::move(keys));
        local_domains_ = std::move(domains);
        source_ips_ = std::move(ips);
        pool_ips_ = std::move(pools);
        sender_pools_ = std::move(senders);
        pacing_.set_rules(std::move(rules));
        if (sched_) sched_->set_pacing(pacing_);
        // Replaced in place: a job in flight still runs in the transport it started in.
        if (transport_) transport_->set_settings(std::move(ts));
        else transport_ = std::make_unique<smtp_transport>(io_.get_executor(), resolver_, client_tls_, ts);
    } catch (const std::exception& e) {
        log::error("outbound_reload_failed", {{"error", e.what()}});
    }
}

void outbound_service::start(config::config_db& cfg) {
    reload(cfg);
    // The scheduler calls the transport through this indirection, so reload() can swap it.
    struct forwarding_transport : transport {
        std::unique_ptr<smtp_transport>* t;
        void deliver(delivery_job job, std::function<void(std::vector<attempt_result>)> done) override {
            (*t)->deliver(std::move(job), std::move(done));
        }
    };
    static forwarding_transport fwd; // one carterod per process
    fwd.t = &transport_;

    scheduler_hooks hooks;
    hooks.source_ip_for = [this](const outbound_message& m) { return pick_source_ip(m); };
    hooks.helo_for = [this](const std::string& ip) {
        for (const auto& [addr, name] : source_ips_)
            if (addr == ip) return name;
        return hostname_;
    };
    hooks.record = [this](const std::vector<recipient_outcome>& o) {
        for (const auto& r : o)
            log::info(r.kind == outcome_kind::delivered  ? "sent"
                      : r.kind == outcome_kind::deferred ? "deferred"
                                                         : "bounced",
                      {{"queue_id", r.attempt.message_id}, {"to", r.attempt.recipient},
                       {"relay", r.attempt.dest_host + "[" + r.attempt.dest_ip + "]"},
                       {"source_ip", r.attempt.source_ip}, {"tls", r.attempt.tls},
                       {"reply", r.attempt.answer.summary()}});
        ostore_.record(o);
    };
    hooks.bounce = [this](const outbound_message& m, const std::vector<recipient_outcome>& failed) {
        send_dsn(m, failed);
    };
    hooks.delayed = [this](const outbound_message& m, const std::vector<recipient_outcome>& d) {
        send_delay_dsn(m, d);
    };
    hooks.load_body = [this](const std::string& id) { return ostore_.load_body(id); };
    hooks.prepare = [this](const outbound_message& m) {
        return signing_.sign(m.body, static_cast<std::int64_t>(std::time(nullptr)));
    };
    retry_settings retry;
    retry.delay_warning = delay_warning_;
    sched_ = std::make_unique<outbound::scheduler>(io_.get_executor(), fwd, pacing_,
                                                   retry_schedule(retry), std::move(hooks));

    for (auto& m : ostore_.load_pending()) sched_->add(std::move(m));
    store_.add_committed_listener([this](std::shared_ptr<const queue::message> msg,
                                         std::vector<std::int64_t> rows) {
        // On the writer thread: only hand over (no signing, no SQL here).
        bool remote = false;
        for (const auto& r : msg->rcpts) remote = remote || r.kind == queue::rcpt_kind::remote;
        if (!remote) return;
        auto m = outbound_store::from_committed(msg, rows);
        net::post(io_, [this, m] { sched_->add(m); });
    });
    admin_token_ = store_.add_admin_listener([this](const queue::admin_event& e) {
        net::post(io_, [this, e] {
            switch (e.action) {
            case queue::admin_action::held: sched_->hold(e.queue_id); break;
            case queue::admin_action::released:
                adopt_if_unknown(e.queue_id);
                sched_->release(e.queue_id);
                break;
            case queue::admin_action::retried:
                adopt_if_unknown(e.queue_id);
                sched_->retry_now(e.queue_id);
                break;
            case queue::admin_action::deleted: sched_->remove(e.queue_id); break;
            case queue::admin_action::bounced:
                sched_->remove(e.queue_id);
                report_unreported_failures(e.queue_id);
                break;
            }
        });
    });
    // Failures recorded by a process that died before their DSN was queued: report them now
    // (else the sender never hears of them and the message stays in queue.db for ever).
    for (const auto& id : ostore_.unreported_failure_ids()) report_unreported_failures(id);
    log::info("outbound_started", {{"pending", std::to_string(sched_->pending_recipients())},
                                   {"dkim_keys", std::to_string(signing_.keys())},
                                   {"source_ips", std::to_string(source_ips_.size())}});
}

void outbound_service::adopt_if_unknown(const std::string& queue_id) {
    if (sched_->knows(queue_id)) return;
    try {
        for (auto& m : ostore_.load_pending(queue_id)) sched_->add(std::move(m));
    } catch (const std::exception& e) {
        log::error("outbound_load_failed", {{"queue_id", queue_id}, {"error", e.what()}});
    }
}

namespace {
// "550 5.1.1 text" (reply::summary(), as queue.db keeps it) back into a reply.
reply parse_stored_reply(const std::string& s) {
    int code = 0;
    std::size_t i = 0;
    while (i < 3 && i < s.size() && s[i] >= '0' && s[i] <= '9') code = code * 10 + (s[i++] - '0');
    if (i != 3 || code < 400) return reply(550, "5.0.0", s.empty() ? "Delivery failed" : s);
    std::string rest = s.size() > 4 ? s.substr(4) : std::string();
    std::string enhanced;
    auto sp = rest.find(' ');
    std::string first = rest.substr(0, sp);
    if (first.size() >= 5 && (first[0] == '4' || first[0] == '5') && first[1] == '.' &&
        first.find_first_not_of("0123456789.") == std::string::npos) {
        enhanced = first;
        rest = sp == std::string::npos ? std::string() : rest.substr(sp + 1);
    }
    return reply(code, enhanced.empty() ? (code >= 500 ? "5.0.0" : "4.0.0") : enhanced, rest);
}
} // namespace

// Failed recipients whose DSN is not queued yet: an admin bounce (queue.bounce: 'failed' with
// "550 5.0.0 Bounced by the administrator"), or failures a killed carterod had recorded but
// not reported. The sender gets the same DSN as for any permanent failure (none for the null
// sender), with the reply stored in queue.db.
void outbound_service::report_unreported_failures(const std::string& queue_id) {
    try {
        std::vector<std::string> replies;
        auto m = ostore_.load_unreported_failures(queue_id, replies);
        if (!m) return;
        std::vector<recipient_outcome> failed;
        std::vector<std::int64_t> rows;
        for (std::size_t i = 0; i < m->rcpts.size(); ++i) {
            recipient_outcome o;
            o.kind = outcome_kind::failed;
            o.attempt.row_id = m->rcpts[i].row_id;
            o.attempt.message_id = queue_id;
            o.attempt.recipient = m->rcpts[i].address;
            o.attempt.answer = parse_stored_reply(i < replies.size() ? replies[i] : std::string());
            o.expired = o.attempt.answer.temporary(); // failed on a 4xx: the lifetime ran out
            failed.push_back(o);
            rows.push_back(o.attempt.row_id);
        }
        if (m->mail_from.empty()) {
            ostore_.dsn_sent(queue_id, rows);
            return;
        }
        send_dsn(*m, failed);
    } catch (const std::exception& e) {
        log::error("admin_bounce_dsn_failed", {{"queue_id", queue_id}, {"error", e.what()}});
    }
}

void outbound_service::stop() {
    if (sched_) sched_->stop();
}

// The envelope part every DSN about `m` shares (failure, success or delay reports).
bounce::dsn_request outbound_service::dsn_request_for(const outbound_message& m) const {
    bounce::dsn_request req;
    req.reporting_mta = hostname_;
    req.envelope_sender = m.mail_from;
    req.envid = m.envid;
    req.queue_id = m.id;
    req.arrival_date = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(m.received_at));
    req.now = std::chrono::system_clock::now();
    return req;
}

void outbound_service::send_dsn(const outbound_message& m,
                                const std::vector<recipient_outcome>& failed) {
    bounce::dsn_request req = dsn_request_for(m);
    req.dsn_ret = m.ret;
    std::shared_ptr<const std::string> original = m.body ? m.body : ostore_.load_body(m.id);
    if (original) req.original = *original;
    std::vector<std::int64_t> rows;
    for (const auto& f : failed) {
        rows.push_back(f.attempt.row_id);
        const outbound_recipient* orig = nullptr;
        for (const auto& rc : m.rcpts)
            if (rc.row_id == f.attempt.row_id) orig = &rc;
        const std::string notify = orig ? orig->notify : std::string();
        const bool delivered = f.kind == outcome_kind::delivered;
        // RFC 3461 §4.1: NOTIFY=NEVER → no DSN at all; a NOTIFY list without FAILURE → none for
        // failures (no NOTIFY: failures only); SUCCESS → a report of the delivery too.
        if (delivered ? notify.find("SUCCESS") == std::string::npos
                      : !notify.empty() && notify.find("FAILURE") == std::string::npos)
            continue;
        bounce::dsn_recipient r;
        r.final_recipient = f.attempt.recipient;
        if (orig) r.original_recipient = orig->orcpt;
        // RFC 3461 §5.2.2: a next hop that offers DSN got NOTIFY from us and reports itself.
        r.action = !delivered             ? bounce::dsn_action::failed
                   : f.attempt.remote_dsn ? bounce::dsn_action::relayed
                                          : bounce::dsn_action::delivered;
        r.reply_code = f.attempt.answer.code;
        r.status = delivered ? std::string("2.0.0") : f.attempt.answer.enhanced;
        r.remote_mta = f.attempt.dest_host;
        r.diagnostic = f.attempt.answer.summary();
        if (f.expired) r.reason = "the message could not be delivered for 5 days";
        r.last_attempt = req.now;
        req.recipients.push_back(std::move(r));
    }
    if (req.recipients.empty()) { // every one of them said NOTIFY=NEVER (or no FAILURE)
        log::info("dsn_not_requested", {{"queue_id", m.id},
                                        {"recipients", std::to_string(rows.size())}});
        ostore_.dsn_sent(m.id, rows);
        return;
    }
    const std::string id = m.id;
    queue_dsn(m, req, [this, id, rows] { ostore_.dsn_sent(id, rows); });
}

// RFC 3464 "delayed": the recipients are still queued and will be tried until the lifetime
// ends (Will-Retry-Until). Headers only (RFC 3461 §4.3 RET is about failures; the message is
// not lost, so the sender needs no copy).
void outbound_service::send_delay_dsn(const outbound_message& m,
                                      const std::vector<recipient_outcome>& delayed) {
    bounce::dsn_request req = dsn_request_for(m);
    req.dsn_ret = "HDRS";
    if (m.body) req.original = *m.body;
    const auto until = req.arrival_date + retry_schedule().settings().lifetime;
    std::vector<std::int64_t> rows;
    for (const auto& d : delayed) {
        rows.push_back(d.attempt.row_id);
        bounce::dsn_recipient r;
        r.final_recipient = d.attempt.recipient;
        for (const auto& rc : m.rcpts)
            if (rc.row_id == d.attempt.row_id) r.original_recipient = rc.orcpt;
        r.action = bounce::dsn_action::delayed;
        r.reply_code = d.attempt.answer.code;
        r.status = d.attempt.answer.enhanced;
        r.remote_mta = d.attempt.dest_host;
        r.diagnostic = d.attempt.answer.summary();
        r.last_attempt = req.now;
        r.will_retry_until = until;
        req.recipients.push_back(std::move(r));
    }
    std::string body_holder;
    if (!m.body) { // not in memory: the headers from queue.db
        if (auto b = ostore_.load_body(m.id)) body_holder = *b;
        req.original = body_holder;
    }
    log::info("delay_dsn", {{"queue_id", m.id}, {"to", m.mail_from},
                            {"recipients", std::to_string(rows.size())}});
    queue_dsn(m, req, [this, rows] { ostore_.delay_dsn_sent(rows); });
}

void outbound_service::queue_dsn(const outbound_message& m, const bounce::dsn_request& req,
                                 std::function<void()> settle) {
    auto built = bounce::build_dsn(req);
    if (!built.ok) {
        log::error("dsn_failed", {{"queue_id", m.id}, {"error", built.error}});
        settle();
        return;
    }
    queue::message dsn;
    dsn.id = queue::new_queue_id();
    dsn.mail_from = ""; // RFC 3464 §2: DSNs go out with the null reverse-path
    dsn.helo = hostname_;
    dsn.client_ip = "127.0.0.1";
    dsn.received_at = static_cast<std::int64_t>(std::time(nullptr));
    dsn.body = std::move(built.value.message);
    dsn.rcpts = route_ ? route_(m.mail_from) : std::vector<queue::recipient>{};
    if (dsn.rcpts.empty()) {
        log::warn("dsn_undeliverable", {{"queue_id", m.id}, {"sender", m.mail_from}});
        settle();
        return;
    }
    const std::string orig = m.id, dsn_id = dsn.id;
    log::info("dsn_queued", {{"queue_id", orig}, {"dsn_queue_id", dsn_id}, {"to", m.mail_from},
                             {"recipients", std::to_string(req.recipients.size())}});
    store_.enqueue(std::move(dsn), [orig, settle](std::optional<std::string> err) {
        if (err) {
            log::error("dsn_enqueue_failed", {{"queue_id", orig}, {"error", *err}});
            return; // not settled: dsn_sent stays 0, the message stays for a later attempt
        }
        settle();
    });
}

} // namespace cartero::app
