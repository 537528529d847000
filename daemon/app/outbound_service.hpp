// daemon/app/outbound_service.hpp — carterod's outbound side wired together: resolver, SMTP
// transport, scheduler, queue.db persistence, DKIM signing, source IPs and DSNs.
#pragma once

#include "core/config_db.hpp"
#include "core/daemon_settings.hpp"
#include "core/dns/resolver.hpp"
#include "daemon/outbound/dkim_signing.hpp"
#include "daemon/outbound/outbound_store.hpp"
#include "daemon/outbound/scheduler.hpp"
#include "daemon/outbound/smtp_transport.hpp"
#include "daemon/queue/queue_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cartero::app {

// Where a DSN (or any mail carterod itself writes) goes: the recipients of `address` as the
// SMTP side would resolve them (local mailbox, forwarder, or remote).
using route_fn = std::function<std::vector<queue::recipient>(const std::string& address)>;

class outbound_service {
public:
    outbound_service(boost::asio::io_context& io, queue::store& store,
                     const config::daemon_settings& settings, route_fn route);
    ~outbound_service();

    // Loads pending remote recipients from queue.db and starts delivering; subscribes to new
    // commits and to admin events. Call once, on the io thread, before io.run().
    void start(config::config_db& cfg);
    // config.db changed: DKIM keys, IPs and the relayhost are re-read.
    void reload(config::config_db& cfg);
    // No new deliveries; those in flight finish.
    void stop();

    const outbound::scheduler& scheduler() const { return *sched_; }
    outbound::outbound_store& store() { return ostore_; }

private:
    std::string pick_source_ip(const outbound::outbound_message& m) const;
    void report_admin_bounce(const std::string& queue_id);
    void send_dsn(const outbound::outbound_message& m,
                  const std::vector<outbound::recipient_outcome>& failed);

    boost::asio::io_context& io_;
    queue::store& store_;
    std::string hostname_;
    route_fn route_;
    std::unique_ptr<dns::resolver> resolver_;
    boost::asio::ssl::context client_tls_;
    std::unique_ptr<outbound::smtp_transport> transport_;
    outbound::outbound_store ostore_;
    outbound::dkim_signing signing_;
    std::unique_ptr<outbound::scheduler> sched_;
    std::optional<config::host_port> relayhost_flag_;
    // Outbound IPs (pool set) and their PTR names; read from config.db.
    std::vector<std::pair<std::string, std::string>> source_ips_;
    std::uint64_t admin_token_ = 0;
};

} // namespace cartero::app
