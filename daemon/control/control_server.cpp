// daemon/control/control_server.cpp — accept loop, per-client coroutines, bounded lines, idle
// timeouts, and the hand-off of each request to the worker pool.
#include "daemon/control/control_server.hpp"

#include "core/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cartero::control {

namespace net = boost::asio;
using unix_socket = net::local::stream_protocol;

struct control_server::client {
    explicit client(unix_socket::socket s) : sock(std::move(s)), timer(sock.get_executor()) {}
    unix_socket::socket sock;
    net::steady_timer timer; // idle / write deadline: closes the socket when it fires
    std::string buf;
};

namespace {

// Does a server answer on this Unix socket path? (A stale file from a crash refuses with
// ECONNREFUSED; a live carterod accepts.)
bool somebody_listens(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ||
                    errno == EAGAIN; // a live server with a full backlog
    ::close(fd);
    return ok;
}

void arm(net::steady_timer& t, std::chrono::seconds after, unix_socket::socket& s) {
    t.expires_after(after);
    t.async_wait([&s](boost::system::error_code ec) {
        if (ec) return; // re-armed or cancelled
        boost::system::error_code ignored;
        s.close(ignored);
    });
}

} // namespace

control_server::control_server(net::io_context& io, handlers& h, server_settings s)
    : io_(io), handlers_(h), settings_(std::move(s)), acceptor_(io),
      pool_(settings_.workers ? settings_.workers : 1) {}

control_server::~control_server() {
    stop();
    pool_.join();
}

void control_server::refuse_if_running(const std::filesystem::path& state_dir) {
    const std::string path = socket_path(state_dir.string());
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    if (!S_ISSOCK(st.st_mode))
        throw std::runtime_error(path + " exists and is not a socket; move it away so "
                                        "carterod can create its control socket there");
    if (somebody_listens(path))
        throw std::runtime_error("another carterod is running on this state directory (its "
                                 "control socket " + path + " answers); stop it first");
}

void control_server::start() {
    path_ = socket_path(settings_.state_dir.string());
    refuse_if_running(settings_.state_dir);
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
            throw std::runtime_error("cannot remove the stale control socket " + path_ + ": " +
                                     std::strerror(errno));
        log::info("control_stale_socket_removed", {{"path", path_}});
    }
    boost::system::error_code ec;
    unix_socket::endpoint ep(path_);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec)
        throw std::runtime_error("cannot listen on the control socket " + path_ + ": " +
                                 ec.message());
    // 0660: carterod's user and group (the panel); the state dir's mode decides the rest.
    if (::chmod(path_.c_str(), 0660) != 0 || ::lstat(path_.c_str(), &st) != 0)
        throw std::runtime_error("cannot set the mode of " + path_ + ": " + std::strerror(errno));
    inode_ = st.st_ino;
    device_ = st.st_dev;
    log::info("control_listening", {{"path", path_}});
    net::co_spawn(io_, accept_loop(), net::detached);
}

void control_server::stop() {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (const auto& c : clients_) {
        c->timer.cancel();
        c->sock.close(ignored);
    }
    // Remove the file only if it is still the one we bound (not a successor's).
    struct stat st {};
    if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && st.st_ino == inode_ &&
        st.st_dev == device_)
        ::unlink(path_.c_str());
}

net::awaitable<void> control_server::accept_loop() {
    while (!stopping_) {
        auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
        if (stopping_) co_return;
        if (ec) {
            if (ec == net::error::operation_aborted) co_return;
            log::warn("control_accept_failed", {{"error", ec.message()}});
            net::steady_timer t(io_, std::chrono::milliseconds(100));
            co_await t.async_wait(net::as_tuple(net::use_awaitable));
            continue;
        }
        if (clients_.size() >= settings_.max_clients) {
            net::co_spawn(io_, refuse(std::move(sock)), net::detached);
            continue;
        }
        auto c = std::make_shared<client>(std::move(sock));
        clients_.insert(c);
        ++client_count_;
        net::co_spawn(io_, serve(c), [this, c](std::exception_ptr e) {
            clients_.erase(c);
            --client_count_;
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log::error("control_client_failed", {{"error", ex.what()}});
                }
            }
        });
    }
}

net::awaitable<void> control_server::refuse(unix_socket::socket s) {
    net::steady_timer t(s.get_executor());
    arm(t, std::chrono::seconds(5), s);
    const std::string line = error_line(nullptr, "carterod has " +
                                                     std::to_string(settings_.max_clients) +
                                                     " control clients already; try again later");
    co_await net::async_write(s, net::buffer(line), net::as_tuple(net::use_awaitable));
    t.cancel();
    boost::system::error_code ignored;
    s.close(ignored);
}

// Runs h.handle(r) on the pool and completes on the caller's executor with the response line.
// A plain function, not a coroutine: GCC 12 miscompiles lambdas with init-captures inside
// coroutine bodies (the same frame bug daemon/inbound works around).
template <class Token>
auto async_handle(net::thread_pool& pool, handlers& h, std::shared_ptr<const request> r,
                  Token&& token) {
    return net::async_initiate<Token, void(std::string)>(
        [&pool, &h](auto handler, std::shared_ptr<const request> req) {
            auto ex = net::get_associated_executor(handler);
            using handler_t = decltype(handler);
            auto hp = std::make_shared<handler_t>(std::move(handler));
            // The work guard keeps io_context::run() going while a request is on the pool, so
            // the answer always has an executor to come back to (and shutdown waits for it).
            auto work = std::make_shared<net::executor_work_guard<decltype(ex)>>(ex);
            net::post(pool, [&h, hp, work, req] {
                auto line = std::make_shared<std::string>(h.handle(*req));
                net::post(work->get_executor(), [hp, work, line] {
                    (*hp)(std::move(*line));
                    work->reset();
                });
            });
        },
        token, std::move(r));
}

net::awaitable<std::string> control_server::run_request(request r) {
    auto req = std::make_shared<const request>(std::move(r));
    co_return co_await async_handle(pool_, handlers_, req, net::use_awaitable);
}

net::awaitable<void> control_server::serve(std::shared_ptr<client> c) {
    // +2: room for the '\n' (and a '\r') after a line of exactly max_request_bytes.
    auto buffer = net::dynamic_buffer(c->buf, max_request_bytes + 2);
    for (;;) {
        arm(c->timer, settings_.idle_timeout, c->sock);
        auto [ec, n] = co_await net::async_read_until(c->sock, buffer, '\n',
                                                      net::as_tuple(net::use_awaitable));
        std::string reply;
        bool close_after = false;
        if (ec == net::error::not_found) { // the buffer is full and holds no '\n'
            reply = error_line(nullptr, "request line longer than " +
                                            std::to_string(max_request_bytes) +
                                            " bytes; closing the connection");
            close_after = true;
        } else if (ec) {
            break; // EOF, reset, idle timeout (socket closed), shutdown
        } else {
            std::string_view line(c->buf.data(), n - 1);
            auto parsed = parse_request(line);
            if (auto* bad = std::get_if<request_error>(&parsed)) {
                reply = error_line(bad->id, bad->message);
                close_after = bad->close;
            } else {
                auto req = std::move(std::get<request>(parsed));
                c->buf.erase(0, n);
                c->timer.cancel(); // a long request is not idleness
                reply = co_await run_request(std::move(req));
                n = 0;
            }
            c->buf.erase(0, n);
        }
        if (stopping_ || !c->sock.is_open()) break;
        arm(c->timer, settings_.write_timeout, c->sock);
        auto [wec, written] =
            co_await net::async_write(c->sock, net::buffer(reply), net::as_tuple(net::use_awaitable));
        (void)written;
        if (wec || close_after) break;
    }
    c->timer.cancel();
    boost::system::error_code ignored;
    c->sock.shutdown(unix_socket::socket::shutdown_both, ignored);
    c->sock.close(ignored);
}

} // namespace cartero::control
