// daemon/outbound/smtp_transport.hpp — the real transport: next hops (relayhost or MX per
// RFC 5321 §5 with RFC 7505 null MX), connect from the pool's source IP, run smtp::client_fsm
// with opportunistic STARTTLS, and turn every outcome into an attempt_result.
#pragma once

#include "core/dns/resolver.hpp"
#include "daemon/outbound/outbound_types.hpp"
#include "daemon/smtp/client_fsm.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace cartero::outbound {

struct next_hop {
    std::string host; // name or IP address
    std::uint16_t port = 25;
    bool require_tls = false;                        // tls_policy::required on this hop
    std::optional<smtp::client_credentials> auth;    // AUTH (sent only under TLS)
};

struct smtp_transport_settings {
    // Next hop per recipient domain (config.db transport_routes), tried before `relayhost`:
    // "example.com" exactly, ".example.com" every subdomain of it (find_route).
    std::map<std::string, next_hop> routes;
    std::optional<next_hop> relayhost;  // every other message goes there instead of the MX
    smtp::tls_policy tls = smtp::tls_policy::opportunistic;
    std::chrono::seconds connect_timeout{30};
    // A connection whose work is done waits this long for more mail to the same destination
    // before QUIT (Postfix: smtp_connection_cache_time_limit, 2 s). 0 = QUIT at once.
    std::chrono::milliseconds idle_time{2000};
    std::size_t max_mx_hosts = 5;       // MX hosts tried per attempt
    std::size_t max_addresses = 4;      // addresses tried per host
    // VERP (DESIGN.md flow 4): the MAIL FROM for one recipient, "" = the message's own sender.
    // A recipient with its own return path is sent in a transaction of its own. Unset = none.
    std::function<std::string(const outbound_message&, const outbound_recipient&)> return_path;
};

// The transport route for a recipient domain: an exact entry, else the nearest ".parent"
// entry (a subdomain route); nullptr = none.
const next_hop* find_route(const std::map<std::string, next_hop>& routes, const std::string& domain);

class smtp_transport : public transport {
public:
    // `resolver` outlives the transport; `client_tls` is a TLS client context (opportunistic
    // STARTTLS does not verify the certificate: it records what was negotiated).
    smtp_transport(boost::asio::any_io_executor ex, dns::resolver& resolver,
                   boost::asio::ssl::context& client_tls, smtp_transport_settings s);

    void deliver(delivery_job job, std::function<void(std::vector<attempt_result>)> done) override;
    // New routes and relayhost (config.db reload), on the executor's thread: jobs that start
    // from now on use them; jobs in flight keep the next hops they chose.
    void set_settings(smtp_transport_settings s) { s_ = std::move(s); }

    // Answers callbacks on our executor.
    boost::asio::awaitable<dns::answer> lookup(std::string name, dns::rr_type type);

private:
    struct hop_result;
    boost::asio::awaitable<void> run(delivery_job job,
                                     std::function<void(std::vector<attempt_result>)> done);

    boost::asio::any_io_executor ex_;
    dns::resolver& resolver_;
    boost::asio::ssl::context& tls_;
    smtp_transport_settings s_;
};

} // namespace cartero::outbound
