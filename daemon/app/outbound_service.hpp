// daemon/app/outbound_service.hpp — carterod's outbound side wired together: SMTP transport (over
// the shared resolver), scheduler, queue.db persistence, DKIM signing, source IPs and DSNs.
#pragma once

#include "core/config_db.hpp"
#include "core/daemon_settings.hpp"
#include "core/dns/resolver.hpp"
#include "daemon/bounce/dsn_builder.hpp"
#include "daemon/outbound/dkim_signing.hpp"
#include "daemon/outbound/outbound_store.hpp"
#include "daemon/outbound/scheduler.hpp"
#include "daemon/outbound/smtp_transport.hpp"
#include "daemon/queue/queue_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace cartero::app {

// Where a DSN (or any mail carterod itself writes) goes: the recipients of `address` as the
// SMTP side would resolve them (local mailbox, forwarder, or remote).
using route_fn = std::function<std::vector<queue::recipient>(const std::string& address)>;

// Everything here runs on the thread of the io_context it is given (carterod: its outbound
// thread, daemon/outbound/outbound_thread.hpp), except where a method says otherwise.
class outbound_service {
public:
    outbound_service(boost::asio::io_context& io, queue::store& store,
                     const config::daemon_settings& settings, dns::resolver& resolver,
                     route_fn route);
    ~outbound_service();

    // Loads pending remote recipients from queue.db and starts delivering; subscribes to new
    // commits and to admin events. Call once, before that io_context runs.
    void start(config::config_db& cfg);
    // config.db changed: DKIM keys, IPs, sender routes, transport routes (and the relayhost)
    // and pacing rules are re-read; the scheduler applies new limits to existing destinations.
    // On the outbound io thread.
    void reload(config::config_db& cfg);
    // The per-installation VERP key (<state>/verp.key); call before start(). "" = no VERP.
    void set_verp_key(std::string key) { verp_key_ = std::move(key); }
    // No new deliveries; those in flight finish.
    void stop();

    const outbound::scheduler& scheduler() const { return *sched_; }
    // scheduler().destinations() for another thread (the control socket's handlers): posted to
    // the outbound io thread, waited for. Throws std::runtime_error when that thread does not
    // answer within `timeout` (stopping). Never call it on the outbound io thread.
    std::vector<outbound::destination_view>
    destinations_from_other_thread(std::chrono::milliseconds timeout) const;
    outbound::outbound_store& store() { return ostore_; }

private:
    std::string pick_source_ip(const outbound::outbound_message& m) const;
    std::string return_path(const outbound::outbound_message& m,
                            const outbound::outbound_recipient& r) const;
    void report_unreported_failures(const std::string& queue_id);
    // A message released or retried that the scheduler does not know (it was held when carterod
    // started, so load_pending skipped it): its due remote recipients from queue.db.
    void adopt_if_unknown(const std::string& queue_id);
    bounce::dsn_request dsn_request_for(const outbound::outbound_message& m) const;
    void send_dsn(const outbound::outbound_message& m,
                  const std::vector<outbound::recipient_outcome>& failed);
    void send_delay_dsn(const outbound::outbound_message& m,
                        const std::vector<outbound::recipient_outcome>& delayed);
    // Builds and queues a DSN (null sender) to m's sender; `settle` runs once it is queued,
    // or when it never can be (build error, no route to the sender).
    void queue_dsn(const outbound::outbound_message& m, const bounce::dsn_request& req,
                   std::function<void()> settle);

    boost::asio::io_context& io_;
    queue::store& store_;
    std::string hostname_;
    route_fn route_;
    dns::resolver& resolver_; // carterod's, shared with inbound (SPF, DKIM, DMARC)
    boost::asio::ssl::context client_tls_;
    std::unique_ptr<outbound::smtp_transport> transport_;
    outbound::outbound_store ostore_;
    outbound::dkim_signing signing_;
    std::unique_ptr<outbound::scheduler> sched_;
    std::optional<config::host_port> relayhost_flag_;
    // Outbound IPs (pool set) and their PTR names; read from config.db.
    std::vector<std::pair<std::string, std::string>> source_ips_;
    std::map<std::string, std::vector<std::string>> pool_ips_; // pool → its outbound IPs
    std::map<std::string, std::string> sender_pools_;          // sender route → pool
    outbound::pacing_table pacing_;
    std::uint64_t admin_token_ = 0;
    std::string verp_key_;
    std::set<std::string> local_domains_; // VERP return paths only on these (A-labels)
    std::chrono::seconds delay_warning_;  // carterod.conf delay_warning_time (0 = none)
};

} // namespace cartero::app
