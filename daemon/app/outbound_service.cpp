// daemon/app/outbound_service.cpp — outbound wiring: hooks between the scheduler, queue.db,
// config.db and the bounce machinery.
#include "daemon/app/outbound_service.hpp"

#include "core/dkim_store.hpp"
#include "core/log.hpp"
#include "core/sending_store.hpp"
#include "daemon/bounce/dsn_builder.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <ctime>
#include <functional>

namespace cartero::app {

namespace net = boost::asio;
using namespace cartero::outbound;

outbound_service::outbound_service(net::io_context& io, queue::store& store,
                                   const config::daemon_settings& settings, route_fn route)
    : io_(io), store_(store), hostname_(settings.hostname), route_(std::move(route)),
      client_tls_(net::ssl::context::tls_client), ostore_(store), relayhost_flag_(settings.relayhost) {
    dns::resolver_settings rs;
    rs.forward_to = settings.resolver;
    resolver_ = dns::make_resolver(rs);
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
    return source_ips_[std::hash<std::string>{}(m.id) % source_ips_.size()].first;
}

void outbound_service::reload(config::config_db& cfg) {
    try {
        signing_.reload(config::list_dkim_keys(cfg));
        source_ips_.clear();
        for (const auto& ip : config::list_ips(cfg))
            if (!ip.pool.empty()) source_ips_.emplace_back(ip.address, ip.hostname);
        smtp_transport_settings ts;
        if (relayhost_flag_) {
            ts.relayhost = next_hop{relayhost_flag_->host, relayhost_flag_->port};
        } else if (auto r = config::get_relayhost(cfg)) {
            ts.relayhost = next_hop{r->next_hop, r->port};
        }
        transport_ = std::make_unique<smtp_transport>(io_.get_executor(), *resolver_, client_tls_, ts);
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
    hooks.load_body = [this](const std::string& id) { return ostore_.load_body(id); };
    hooks.prepare = [this](const outbound_message& m) {
        return signing_.sign(m.body, static_cast<std::int64_t>(std::time(nullptr)));
    };
    sched_ = std::make_unique<outbound::scheduler>(io_.get_executor(), fwd, pacing_table(),
                                                   retry_schedule(), std::move(hooks));

    for (auto& m : ostore_.load_pending()) sched_->add(std::move(m));
    store_.add_committed_listener([this](std::shared_ptr<const queue::message> msg,
                                         std::vector<std::int64_t> rows) {
        // On the writer thread: only hand over (no signing, no SQL here).
        bool remote = false;
        for (const auto& r : msg->rcpts) remote = remote || r.kind == queue::rcpt_kind::remote;
        if (!remote) return;
        auto m = outbound_store::from_committed(*msg, rows);
        net::post(io_, [this, m] { sched_->add(m); });
    });
    admin_token_ = store_.add_admin_listener([this](const queue::admin_event& e) {
        net::post(io_, [this, e] {
            switch (e.action) {
            case queue::admin_action::held: sched_->hold(e.queue_id); break;
            case queue::admin_action::released: sched_->release(e.queue_id); break;
            case queue::admin_action::retried: sched_->retry_now(e.queue_id); break;
            case queue::admin_action::deleted: sched_->remove(e.queue_id); break;
            case queue::admin_action::bounced:
                sched_->remove(e.queue_id);
                report_admin_bounce(e.queue_id);
                break;
            }
        });
    });
    log::info("outbound_started", {{"pending", std::to_string(sched_->pending_recipients())},
                                   {"dkim_keys", std::to_string(signing_.keys())},
                                   {"source_ips", std::to_string(source_ips_.size())}});
}

// queue.bounce: the recipients are 'failed' with "550 5.0.0 Bounced by the administrator";
// the sender gets the same DSN as for any permanent failure (none for the null sender).
void outbound_service::report_admin_bounce(const std::string& queue_id) {
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
            o.attempt.answer = reply(550, "5.0.0", "Bounced by the administrator");
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

void outbound_service::send_dsn(const outbound_message& m,
                                const std::vector<recipient_outcome>& failed) {
    bounce::dsn_request req;
    req.reporting_mta = hostname_;
    req.envelope_sender = m.mail_from;
    req.envid = m.envid;
    req.queue_id = m.id;
    req.arrival_date = std::chrono::system_clock::from_time_t(static_cast<std::time_t>(m.received_at));
    req.now = std::chrono::system_clock::now();
    req.dsn_ret = m.ret;
    std::shared_ptr<const std::string> original = m.body ? m.body : ostore_.load_body(m.id);
    if (original) req.original = *original;
    std::vector<std::int64_t> rows;
    for (const auto& f : failed) {
        bounce::dsn_recipient r;
        r.final_recipient = f.attempt.recipient;
        r.action = bounce::dsn_action::failed;
        r.reply_code = f.attempt.answer.code;
        r.status = f.attempt.answer.enhanced;
        r.remote_mta = f.attempt.dest_host;
        r.diagnostic = f.attempt.answer.summary();
        if (f.expired) r.reason = "the message could not be delivered for 5 days";
        r.last_attempt = req.now;
        req.recipients.push_back(std::move(r));
        rows.push_back(f.attempt.row_id);
    }
    auto built = bounce::build_dsn(req);
    if (!built.ok) {
        log::error("dsn_failed", {{"queue_id", m.id}, {"error", built.error}});
        ostore_.dsn_sent(m.id, rows);
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
        ostore_.dsn_sent(m.id, rows);
        return;
    }
    const std::string orig = m.id, dsn_id = dsn.id;
    log::info("dsn_queued", {{"queue_id", orig}, {"dsn_queue_id", dsn_id}, {"to", m.mail_from},
                             {"recipients", std::to_string(rows.size())}});
    store_.enqueue(std::move(dsn), [this, orig, rows](std::optional<std::string> err) {
        if (err) {
            log::error("dsn_enqueue_failed", {{"queue_id", orig}, {"error", *err}});
            return; // dsn_sent stays 0: the message stays in the queue for a later attempt
        }
        ostore_.dsn_sent(orig, rows);
    });
}

} // namespace cartero::app
