// daemon/app/carterod.cpp — carterod's wiring: settings → queue + delivery agent → listeners;
// config.db watcher, SIGHUP reload, SIGTERM drain, sd_notify READY/RELOADING/STOPPING/WATCHDOG.
#include "daemon/app/carterod.hpp"

#include "core/config_db.hpp"
#include "core/greylist_settings.hpp"
#include "core/log.hpp"
#include "daemon/app/outbound_service.hpp"
#include "daemon/outbound/outbound_thread.hpp"
#include "daemon/app/verp_key.hpp"
#include "daemon/control/control_server.hpp"
#include "daemon/inbound/server.hpp"
#include "daemon/local/autoresponder.hpp"
#include "daemon/local/delivery_agent.hpp"
#include "daemon/local/maildir_quota.hpp"
#include "daemon/queue/queue_admin.hpp"
#include "daemon/queue/queue_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>

#include <systemd/sd-daemon.h>

#include <ctime>
#include <filesystem>
#include <unordered_set>
#include <map>
#include <mutex>
#include <stdexcept>

namespace cartero::app {

namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<const inbound::inbound_settings>
make_inbound_settings(const config::daemon_settings& d) {
    auto s = std::make_shared<inbound::inbound_settings>();
    s->hostname = d.hostname;
    s->max_command_line = d.max_command_line;
    s->max_text_line = d.max_text_line;
    s->max_recipients = d.max_recipients;
    s->max_message_size = d.max_message_size;
    s->max_bad_commands = d.max_bad_commands;
    s->max_connections = d.max_connections;
    s->max_connections_per_ip = d.max_connections_per_ip;
    s->auth_failures_slowdown = d.auth_failures_slowdown;
    s->auth_failures_limit = d.auth_failures_limit;
    s->auth_failure_window = d.auth_failure_window;
    s->timeout_command = d.timeout_command;
    s->timeout_data = d.timeout_data;
    s->timeout_tls_handshake = d.timeout_tls_handshake;
    s->trusted_networks = policy::network_list(d.trusted_network);
    s->dmarc_reject = d.dmarc_reject;
    return s;
}

void apply_limits(inbound::shared_state& st, const inbound::inbound_settings& s) {
    st.limiter.set_limits(s.max_connections, s.max_connections_per_ip);
    st.auth_throttle.set_limits(s.auth_failures_slowdown, s.auth_failures_limit,
                                s.auth_failure_window);
}

// TLS ≥ 1.2 only (RFC 8996 deprecates 1.0 and 1.1). Null when no certificate is configured.
std::unique_ptr<net::ssl::context> make_tls(const config::daemon_settings& d) {
    if (d.tls_certificate.empty() || !fs::exists(d.tls_certificate) || !fs::exists(d.tls_key)) {
        log::warn("tls_unavailable", {{"certificate", d.tls_certificate},
                                      {"reason", "certificate or key file missing"}});
        return nullptr;
    }
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->use_certificate_chain_file(d.tls_certificate);
    ctx->use_private_key_file(d.tls_key, net::ssl::context::pem);
    return ctx;
}

void notify(const char* state) { sd_notify(0, state); }

// Listeners from systemd socket activation, mapped by FileDescriptorName (DESIGN.md).
std::vector<inbound::listener_spec> activated_listeners() {
    std::vector<inbound::listener_spec> out;
    char** names = nullptr;
    int n = sd_listen_fds_with_names(1, &names);
    for (int i = 0; i < n; ++i) {
        inbound::listener_spec spec;
        spec.inherited_fd = SD_LISTEN_FDS_START + i;
        std::string name = names && names[i] ? names[i] : "smtp";
        if (name == "submission")
            spec.kind = config::listener_kind::submission;
        else if (name == "smtps")
            spec.kind = config::listener_kind::smtps;
        else
            spec.kind = config::listener_kind::smtp;
        out.push_back(spec);
    }
    if (names) {
        for (int i = 0; i < n; ++i) free(names[i]);
        free(names);
    }
    return out;
}

// The config snapshot for threads other than the main io thread (outbound's DSN routing, the
// autoresponder): st.config is replaced on the main thread, a shared_ptr is not safe to read
// while another thread assigns it.
class snapshot_for_other_threads {
public:
    void set(std::shared_ptr<const config::snapshot> s) {
        std::lock_guard lock(mu_);
        s_ = std::move(s);
    }
    std::shared_ptr<const config::snapshot> get() const {
        std::lock_guard lock(mu_);
        return s_;
    }

private:
    mutable std::mutex mu_;
    std::shared_ptr<const config::snapshot> s_;
};

} // namespace

int run_daemon(const options& opts) {
    const fs::path state_dir = fs::absolute(opts.state_dir);
    if (!fs::exists(state_dir / "config.db"))
        throw std::runtime_error("state directory " + state_dir.string() +
                                 " is not initialised (no config.db); run: carteroctl "
                                 "--state-dir " + state_dir.string() + " init --hostname NAME");
    config::daemon_settings settings;
    if (auto errors = load_settings(opts, settings); !errors.empty()) {
        for (const auto& e : errors) log::error("settings", {{"problem", e}});
        throw std::runtime_error(errors.front());
    }
    log::set_min_level(settings.log_level);

    config::config_db cfg_db((state_dir / "config.db").string(), false);
    auto snapshot = std::make_shared<const config::snapshot>(cfg_db.load_snapshot());

    auto tls = make_tls(settings);
    net::ssl::context stream_tls(net::ssl::context::tls_server); // for streams without TLS

    // Before the queue is touched: a second carterod on one queue.db would deliver twice.
    control::control_server::refuse_if_running(state_dir);
    auto store = queue::store::open({state_dir / "queue.db"});
    auto agent = local::delivery_agent::start(*store, {settings.hostname});

    // One resolver for outbound (MX) and inbound (SPF, DKIM, DMARC); declared before the pool
    // and the io_context so that it outlives every lookup they make.
    dns::resolver_settings resolver_settings;
    resolver_settings.forward_to = settings.resolver;
    auto resolver = dns::make_resolver(resolver_settings);

    // Greylisting (RFC 6647) at RCPT: triplets in memory, saved to queue.db by its writer.
    policy::greylist greylist([] { return static_cast<std::int64_t>(std::time(nullptr)); },
                              policy::queue_persister(*store));
    greylist.load(policy::load_greylist_rows(*store));
    greylist.set_config(std::make_shared<const config::greylist_config>(
        config::load_greylist_config(cfg_db)));
    greylist.expire();

    net::io_context io(1);
    outbound::outbound_thread out; // declared after io: stopped and joined before io goes
    net::thread_pool blocking(1);
    inbound::shared_state st;
    st.greylist = &greylist;
    st.settings = make_inbound_settings(settings);
    apply_limits(st, *st.settings);
    st.config = snapshot;
    snapshot_for_other_threads shared_config;
    shared_config.set(snapshot);
    auto set_config = [&st, &shared_config](std::shared_ptr<const config::snapshot> s) {
        shared_config.set(s);
        st.config = std::move(s);
    };
    st.quota = [](const std::string& maildir, std::uint64_t quota, std::uint64_t size) {
        return local::would_fit(maildir, quota, size);
    };
    // Flow 4: the HMAC key of VERP return paths (created at first start, 0600).
    const std::string verp_key = load_or_create_verp_key(state_dir);
    st.resolver = std::make_unique<policy::recipient_resolver>(
        policy::resolver_settings{settings.mail_root, 10, verp_key}, st.quota);
    st.store = store.get();
    st.tls = tls.get();
    st.stream_tls = tls ? tls.get() : &stream_tls;
    st.blocking_pool = &blocking;
    st.dns = resolver.get();

    // Outbound: what carterod writes itself (DSNs, autoreplies) is routed like mail from a
    // trusted client. Runs on the outbound and the autoresponder threads.
    auto route = [&st, &shared_config](const std::string& address) {
        std::vector<queue::recipient> out;
        auto at = address.rfind('@');
        if (at == std::string::npos) return out;
        smtp::path p;
        p.local = address.substr(0, at);
        p.domain = address.substr(at + 1);
        p.raw = address;
        policy::session_facts facts;
        facts.client_ip = "127.0.0.1";
        facts.trusted_network = true;
        auto res = st.resolver->resolve(*shared_config.get(), facts, p, std::nullopt);
        if (res.answer.positive()) out = std::move(res.targets);
        return out;
    };
    app::outbound_service outbound(out.io(), *store, settings, *resolver, route);
    outbound.set_verp_key(verp_key);
    outbound.start(cfg_db);
    // RFC 3834 autoresponders: replies go through the queue like DSNs (DKIM-signed outbound).
    auto responder = local::autoresponder::start(
        *store, {state_dir / "config.db", settings.hostname, route});

    inbound::server srv(io, st);
    auto specs = activated_listeners();
    const bool activated = !specs.empty();
    if (!activated) {
        for (const auto& l : settings.listen) {
            inbound::listener_spec spec;
            spec.kind = l.kind;
            spec.address = l.address;
            spec.port = l.port;
            specs.push_back(spec);
        }
    }
    if (specs.empty()) throw std::runtime_error("no listeners configured");
    for (const auto& spec : specs) {
        if (spec.kind == config::listener_kind::smtps && !tls)
            throw std::runtime_error("an smtps listener needs a TLS certificate (tls_certificate)");
        auto where = srv.add_listener(spec);
        log::info("listening", {{"kind", config::to_string(spec.kind)}, {"address", where},
                                {"activated", activated ? "yes" : "no"}});
    }
    srv.start();

    // Control socket (carteroctl, the panel): after the listeners, so a daemon that cannot
    // listen never advertises itself as running.
    queue::queue_admin admin(*store, state_dir / "queue.db");
    std::unique_ptr<control::control_server> control_srv;
    control::daemon_status ctl_status;
    ctl_status.started_at = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    ctl_status.messages_accepted = [&st] { return st.messages_accepted.load(); };
    ctl_status.control_clients = [&control_srv] { return control_srv->clients(); };
    ctl_status.destinations = [&outbound] {
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        auto rows = nlohmann::json::array();
        for (const auto& d : outbound.destinations_from_other_thread(std::chrono::seconds(10)))
            rows.push_back({{"domain", d.domain},
                            {"source_ip", d.source_ip},
                            {"queued", d.queued},
                            {"connections", d.connections},
                            {"max_connections", d.limits.max_connections},
                            {"messages_per_minute", d.limits.messages_per_minute},
                            {"messages_per_connection", d.limits.messages_per_connection},
                            {"paused", d.pause.until > now},
                            {"paused_until", d.pause.until > now ? d.pause.until : 0},
                            {"why", d.pause.why},
                            {"reply", d.pause.reply},
                            {"pause_level", d.pause.level}});
        return rows;
    };
    control::handlers ctl_handlers(admin, ctl_status);
    control_srv = std::make_unique<control::control_server>(io, ctl_handlers,
                                                            control::server_settings{state_dir});
    control_srv->start();

    bool stopping = false;
    net::steady_timer config_timer(io);
    net::steady_timer watchdog_timer(io);
    net::steady_timer shutdown_timer(io);
    net::steady_timer drain_timer(io);
    // After SIGTERM: once no session and no delivery is left, drop the forced-stop timer so
    // io.run() can return at once.
    std::function<void()> drain = [&] {
        if (srv.active_sessions() == 0 && outbound.scheduler().jobs_in_flight() == 0) {
            shutdown_timer.cancel();
            return;
        }
        drain_timer.expires_after(std::chrono::milliseconds(100));
        drain_timer.async_wait([&](boost::system::error_code ec) {
            if (!ec) drain();
        });
    };
    net::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);

    // config.db changes made by carteroctl or the panel: noticed within a second.
    std::uint64_t config_ticks = 0;
    std::function<void()> watch_config = [&] {
        config_timer.expires_after(std::chrono::seconds(1));
        config_timer.async_wait([&](boost::system::error_code ec) {
            if (ec || stopping) return;
            try {
                if (cfg_db.data_version() != st.config->data_version) {
                    set_config(std::make_shared<const config::snapshot>(cfg_db.load_snapshot()));
                    // On the outbound thread; this one waits, so cfg_db has one user at a time.
                    out.run_and_wait([&] { outbound.reload(cfg_db); });
                    greylist.set_config(std::make_shared<const config::greylist_config>(
                        config::load_greylist_config(cfg_db)));
                    log::info("config_reloaded",
                              {{"domains", std::to_string(st.config->domains.size())},
                               {"mailboxes", std::to_string(st.config->mailboxes.size())}});
                }
            } catch (const std::exception& e) {
                log::error("config_reload_failed", {{"error", e.what()}});
            }
            if (++config_ticks % 3600 == 0) greylist.expire(); // hourly
            watch_config();
        });
    };
    watch_config();

    // The suppression list lives in queue.db; sessions read an in-memory copy.
    net::steady_timer suppression_timer(io);
    std::string suppression_fp;
    std::function<void()> watch_suppression = [&] {
        try {
            if (auto list = outbound.store().suppression_if_changed(suppression_fp))
                st.suppressed = std::make_shared<const std::unordered_set<std::string>>(
                    list->begin(), list->end());
        } catch (const std::exception& e) {
            log::error("suppression_reload_failed", {{"error", e.what()}});
        }
        suppression_timer.expires_after(std::chrono::seconds(2));
        suppression_timer.async_wait([&](boost::system::error_code ec) {
            if (!ec && !stopping) watch_suppression();
        });
    };
    watch_suppression();

    std::uint64_t watchdog_usec = 0;
    std::function<void()> pet_watchdog = [&] {
        if (watchdog_usec == 0 || stopping) return;
        notify("WATCHDOG=1");
        watchdog_timer.expires_after(std::chrono::microseconds(watchdog_usec / 2));
        watchdog_timer.async_wait([&](boost::system::error_code ec) {
            if (!ec) pet_watchdog();
        });
    };
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0) pet_watchdog();

    std::function<void()> wait_signal = [&] {
        signals.async_wait([&](boost::system::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                notify("RELOADING=1");
                config::daemon_settings fresh;
                auto errors = load_settings(opts, fresh);
                if (errors.empty()) {
                    // Listeners and paths need a restart; limits, timeouts, trust apply now.
                    st.settings = make_inbound_settings(fresh);
                    apply_limits(st, *st.settings);
                    log::set_min_level(fresh.log_level);
                    log::info("reloaded", {{"source", "SIGHUP"}});
                } else {
                    for (const auto& e : errors)
                        log::error("reload_refused", {{"problem", e}});
                }
                try {
                    set_config(std::make_shared<const config::snapshot>(cfg_db.load_snapshot()));
                } catch (const std::exception& e) {
                    log::error("config_reload_failed", {{"error", e.what()}});
                }
                notify("READY=1");
                wait_signal();
                return;
            }
            stopping = true;
            notify("STOPPING=1");
            log::info("stopping", {{"signal", std::to_string(sig)},
                                   {"sessions", std::to_string(srv.active_sessions())}});
            srv.stop();
            control_srv->stop();
            net::post(out.io(), [&outbound] { outbound.stop(); });
            // Deliveries in flight get a grace period; then the loop ends regardless (what
            // they had not recorded is tried again after the restart).
            shutdown_timer.expires_after(std::chrono::seconds(20));
            shutdown_timer.async_wait([&io, &out](boost::system::error_code ec) {
                if (!ec) {
                    log::warn("shutdown_forced", {{"reason", "deliveries still in flight"}});
                    out.stop_now();
                    io.stop();
                }
            });
            drain();
            config_timer.cancel();
            watchdog_timer.cancel();
            suppression_timer.cancel();
            signals.cancel();
        });
    };
    wait_signal();

    notify("READY=1\nSTATUS=accepting mail");
    // Which resolver inbound (SPF/DKIM/DMARC) and outbound (MX) lookups use.
    log::info("ready", {{"hostname", settings.hostname},
                        {"resolver", settings.resolver.empty() ? std::string("system")
                                                               : settings.resolver}});
    std::exception_ptr outbound_failure;
    out.start([&io, &outbound_failure](const std::exception& e) {
        log::error("outbound_thread_failed", {{"error", e.what()}});
        outbound_failure = std::make_exception_ptr(std::runtime_error(
            std::string("outbound thread: ") + e.what()));
        io.stop();
    });
    // If anything below throws, the outbound thread must end before `outbound` (declared
    // later than `out`) is destroyed by the unwinding.
    struct join_outbound_on_exit {
        outbound::outbound_thread& t;
        ~join_outbound_on_exit() { t.stop_when_idle(std::chrono::milliseconds(0)); }
    } join_outbound{out};
    io.run();
    control_srv.reset(); // its workers are idle: io.run() waited for every request
    // Deliveries have ended (drain) or were cut off (forced); what the outbound loop still
    // holds (a DSN being settled, a late commit notice) gets a moment to finish.
    out.stop_when_idle(std::chrono::seconds(2));
    if (outbound_failure) std::rethrow_exception(outbound_failure);

    // Every session has ended and every commit it waited for has completed.
    blocking.join();
    responder->stop();
    agent->stop();
    store->stop();
    log::info("stopped", {{"messages_accepted", std::to_string(st.messages_accepted.load())}});
    return 0;
}

} // namespace cartero::app
