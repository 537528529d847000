// daemon/inbound/session.hpp — one SMTP connection: a thin coroutine around smtp::server_fsm.
#pragma once

#include "daemon/inbound/shared_state.hpp"
#include "daemon/policy/session_facts.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace cartero::smtp {
struct envelope;
}

namespace cartero::inbound {

namespace net = boost::asio;

// Lifetime: owned by its coroutine (shared_ptr); registered with the server for shutdown.
// Every read and write has a deadline (RFC 5321 §4.5.3.2); a deadline or a shutdown cancels
// the socket and the coroutine decides what to say (421) from the flags.
class session : public std::enable_shared_from_this<session> {
public:
    session(net::ip::tcp::socket sock, policy::listener_kind kind, shared_state& st,
            std::string id);
    ~session();

    net::awaitable<void> run();
    // Server shutdown: a session waiting for a command gets 421 and closes; one in the middle
    // of a transfer loses its transfer (nothing was acknowledged, so nothing is lost).
    void request_stop();

private:
    net::awaitable<bool> read_more(std::string_view& got, std::chrono::seconds timeout, bool large);
    net::awaitable<bool> flush(std::string& out);
    net::awaitable<bool> handshake();
    void arm(std::chrono::seconds timeout);
    void disarm();
    // Mail from the internet (port 25, untrusted, not authenticated): SPF, DKIM, DMARC and
    // spam checks, which rewrite the header section.
    bool checks_mail() const;
    // Our Received field for a message of this session (the topmost trace field).
    std::string received_field(const smtp::envelope& env, const std::string& by_host,
                               const std::string& queue_id, std::int64_t when) const;

    net::ip::tcp::socket sock_;
    // Made at STARTTLS only: an ssl::stream zeroes two 17 KB record buffers and makes an SSL
    // object, which cost each plain session ~50k instructions and ~35 KB (callgrind, relay
    // bench). Declared after sock_, which it refers to, so it is destroyed first.
    std::unique_ptr<net::ssl::stream<net::ip::tcp::socket&>> tls_stream_;
    net::steady_timer deadline_;
    std::uint64_t deadline_gen_ = 0;
    bool tls_ = false;
    bool timed_out_ = false;
    bool stop_requested_ = false;
    bool reading_ = false;
    policy::session_facts facts_;
    shared_state& st_;
    std::string id_;
    std::string tls_version_, tls_cipher_;
    char small_buf_[8192];             // read buffer for commands
    static constexpr std::size_t data_buf_size = 64 * 1024;
    std::unique_ptr<char[]> data_buf_; // read buffer for message bodies, made at the first DATA
};

} // namespace cartero::inbound
