// daemon/outbound/outbound_types.hpp — what the outbound scheduler moves around: messages with
// their remote recipients, delivery jobs for one destination, and per-recipient attempt results.
#pragma once

#include "core/reply.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cartero::outbound {

struct outbound_recipient {
    std::int64_t row_id = 0;    // recipients.id in queue.db
    std::string address;        // where it goes (deliver_to)
    std::string rcpt_to;        // what the client wrote (for DSNs)
    std::uint32_t attempts = 0; // temporary failures so far
    std::int64_t next_attempt_at = 0; // unix seconds; 0 = now
    std::string notify, orcpt;  // RFC 3461, as received
    bool delay_dsn_sent = false; // the sender was told of the delay already (once per recipient)
};

struct outbound_message {
    std::string id;           // queue id
    std::string mail_from;    // "" = null sender (a DSN: never bounced)
    std::int64_t received_at = 0;
    std::uint64_t size = 0;
    std::string auth_user;    // the submitting account, for IP-pool routing
    std::string envid, ret;   // RFC 3461
    std::shared_ptr<const std::string> body; // null until loaded (bodies stay on disk meanwhile)
    bool prepared = false;    // body already DKIM-signed (done once, before the first attempt)
    // queue::message::dot_free: body (also once signed: DKIM only adds header fields, which
    // never start with ".") goes out as it is, without dot-stuffing.
    bool dot_free = false;
    std::vector<outbound_recipient> rcpts;   // the remote ones still to deliver
};

struct attempt_result {
    std::int64_t row_id = 0;
    std::string message_id;
    std::string recipient;
    bool delivered = false;
    reply answer;            // the remote reply (or ours: "451 4.4.1 connection refused ...")
    bool connection_failed = false; // never reached a server that answered (DNS, TCP, TLS)
    bool remote_dsn = false; // the server offered DSN (RFC 3461): it got NOTIFY/ORCPT from us
    std::string dest_host, dest_ip, source_ip, tls; // for the delivery log
};

// One connection's worth of work: messages for one recipient domain, from one source IP.
struct delivery_job {
    std::string domain;     // recipient domain (A-label)
    std::string source_ip;  // "" = the kernel's choice
    std::string helo_name;  // the source IP's PTR name (EHLO)
    struct item {
        std::shared_ptr<const outbound_message> msg;
        std::vector<std::size_t> rcpts; // indexes into msg->rcpts
    };
    std::vector<item> items;
    // Set by the scheduler; the transport calls it (on the scheduler's executor) with the
    // delivered recipients of each transaction as soon as the server accepted it, so they are
    // recorded while the job's later transactions still run: a crash then repeats only the
    // transaction in flight, not the whole job. `done` still reports every recipient.
    std::function<void(std::vector<attempt_result>)> delivered_early;
    // Set by the scheduler; the transport calls it once it has chosen the next hops, with the
    // most preferred MX host ("" when a route or the relayhost is used, or DNS gave no MX
    // host), so that `mx:` pacing rules can apply to the destination.
    std::function<void(const std::string& mx_host)> next_hop_known;
    // Connection reuse (set by the scheduler): when its transactions are done, the transport
    // asks for more messages for this destination before QUIT (refill; empty = none now). With
    // none it keeps the connection idle for a moment, parked: `park` hands the scheduler a
    // wake-up to call when new work for the destination is ready (expired = no longer parked).
    // park returns false when the connection must not wait (it has carried its
    // messages_per_connection): it QUITs at once, so a fresh connection can take the rest
    // instead of the queue waiting for the idle time to pass.
    std::function<std::vector<item>()> refill;
    std::function<bool(std::weak_ptr<std::function<void()>>)> park;
};

// The SMTP side (MX lookup, connect, TLS, transactions). `done` is called exactly once, on the
// scheduler's executor, with one result per recipient of the job.
class transport {
public:
    virtual ~transport() = default;
    virtual void deliver(delivery_job job,
                         std::function<void(std::vector<attempt_result>)> done) = 0;
};

} // namespace cartero::outbound
