// daemon/inbound/server.hpp — listeners (own sockets or systemd's), accept loops, the session
// registry and graceful shutdown.
#pragma once

#include "daemon/inbound/shared_state.hpp"
#include "daemon/policy/session_facts.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace cartero::inbound {

class session;

struct listener_spec {
    policy::listener_kind kind = policy::listener_kind::smtp;
    std::string address;   // "127.0.0.1", "::"
    unsigned short port = 0;
    int inherited_fd = -1; // a socket from systemd (sd_listen_fds); address/port then unused
};

class server {
public:
    server(boost::asio::io_context& io, shared_state& st);
    ~server();

    // Binds (or adopts) a listener; throws std::runtime_error naming the address on failure.
    // Returns the bound "addr:port" (port 0 picks one).
    std::string add_listener(const listener_spec& spec);
    void start();
    // Stop accepting; sessions waiting for a command get 421 4.3.2; the io_context runs out
    // once the last session and the last commit have finished.
    void stop();
    std::size_t active_sessions() const { return sessions_.size(); }

private:
    struct listener;
    boost::asio::awaitable<void> accept_loop(listener& l);

    boost::asio::io_context& io_;
    shared_state& st_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::unordered_set<session*> sessions_;
    std::uint64_t next_session_ = 0;
    bool stopping_ = false;
};

} // namespace cartero::inbound
