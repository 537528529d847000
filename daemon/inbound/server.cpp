// daemon/inbound/server.cpp — accept loops and session bookkeeping.
#include "daemon/inbound/server.hpp"

#include "core/log.hpp"
#include "daemon/inbound/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

namespace cartero::inbound {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct server::listener {
    policy::listener_kind kind;
    tcp::acceptor acceptor;
    std::string name;
};

server::server(net::io_context& io, shared_state& st) : io_(io), st_(st) {}
server::~server() = default;

std::string server::add_listener(const listener_spec& spec) {
    auto l = std::make_unique<listener>(listener{spec.kind, tcp::acceptor(io_), {}});
    boost::system::error_code ec;
    if (spec.inherited_fd >= 0) {
        // systemd socket activation: the socket is bound and listening already.
        int family = 0;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(spec.inherited_fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
            family = ss.ss_family;
        l->acceptor.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), spec.inherited_fd, ec);
        if (ec) throw std::runtime_error("cannot adopt inherited socket: " + ec.message());
    } else {
        auto addr = net::ip::make_address(spec.address, ec);
        if (ec) throw std::runtime_error("not an IP address: " + spec.address);
        tcp::endpoint ep(addr, spec.port);
        l->acceptor.open(ep.protocol(), ec);
        if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && addr.is_v6()) l->acceptor.set_option(net::ip::v6_only(false), ec);
        if (!ec) l->acceptor.bind(ep, ec);
        if (!ec) l->acceptor.listen(1024, ec);
        if (ec)
            throw std::runtime_error("cannot listen on " + spec.address + ":" +
                                     std::to_string(spec.port) + ": " + ec.message());
    }
    auto local = l->acceptor.local_endpoint(ec);
    l->name = (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                       : local.address().to_string()) +
              ":" + std::to_string(local.port());
    std::string name = l->name;
    listeners_.push_back(std::move(l));
    return name;
}

void server::start() {
    for (auto& l : listeners_) net::co_spawn(io_, accept_loop(*l), net::detached);
}

net::awaitable<void> server::accept_loop(listener& l) {
    for (;;) {
        auto [ec, sock] = co_await l.acceptor.async_accept(net::as_tuple(net::use_awaitable));
        if (stopping_) co_return;
        if (ec) {
            if (ec == net::error::operation_aborted) co_return;
            // EMFILE and friends: log, breathe, go on — never spin.
            log::warn("accept_failed", {{"listener", l.name}, {"error", ec.message()}});
            net::steady_timer t(io_, std::chrono::milliseconds(100));
            co_await t.async_wait(net::as_tuple(net::use_awaitable));
            continue;
        }
        boost::system::error_code ignored;
        sock.set_option(tcp::no_delay(true), ignored);
        auto s = std::make_shared<session>(std::move(sock), l.kind, st_,
                                           std::to_string(++next_session_));
        ++st_.sessions_started;
        sessions_.insert(s.get());
        net::co_spawn(io_, s->run(), [this, s](std::exception_ptr e) {
            sessions_.erase(s.get());
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log::error("session_failed", {{"error", ex.what()}});
                }
            }
        });
    }
}

void server::stop() {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    for (auto& l : listeners_) l->acceptor.close(ignored);
    for (auto* s : sessions_) s->request_stop();
}

} // namespace cartero::inbound
