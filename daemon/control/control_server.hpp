// daemon/control/control_server.hpp — carterod's control socket: a Unix-socket acceptor on the
// daemon's io_context, one coroutine per client, requests run on a small worker pool.
#pragma once

#include "daemon/control/control_handlers.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_set>

#include <sys/types.h>

namespace cartero::control {

struct server_settings {
    std::filesystem::path state_dir;      // the socket is <state_dir>/control.sock
    std::size_t max_clients = 64;         // more are answered with an error and closed
    std::chrono::seconds idle_timeout{300}; // a client silent this long is closed
    std::chrono::seconds write_timeout{30}; // a client that does not read its answers
    unsigned workers = 2;                 // threads running requests (SQLite, writer waits)
};

// Lives on the io_context's thread (start, stop and every coroutine); only handlers::handle runs
// on the worker pool. Requests of one client are answered in order, one at a time.
class control_server {
public:
    control_server(boost::asio::io_context& io, handlers& h, server_settings s);
    ~control_server(); // joins the workers (after stop())

    // Throws std::runtime_error when a carterod answers on <state_dir>/control.sock (call it
    // before opening the queue: two daemons must never deliver from one queue.db).
    static void refuse_if_running(const std::filesystem::path& state_dir);
    // Binds <state_dir>/control.sock (mode 0660) and starts accepting. A socket file left by a
    // crashed carterod is removed; if something answers on it, throws std::runtime_error
    // ("another carterod is running ..."): two daemons must never share one queue.db.
    void start();
    // Stops accepting, closes every client, removes the socket file (if it is still ours).
    // Requests running on the pool finish; their answers are dropped.
    void stop();
    // Connected clients; safe from any thread (status runs on the pool).
    std::size_t clients() const { return client_count_.load(); }

private:
    struct client;
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(std::shared_ptr<client> c);
    boost::asio::awaitable<void> refuse(boost::asio::local::stream_protocol::socket s);
    boost::asio::awaitable<std::string> run_request(request r);

    boost::asio::io_context& io_;
    handlers& handlers_;
    server_settings settings_;
    std::string path_;
    ino_t inode_ = 0;
    dev_t device_ = 0;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    boost::asio::thread_pool pool_;
    std::unordered_set<std::shared_ptr<client>> clients_;
    std::atomic<std::size_t> client_count_{0};
    bool stopping_ = false;
};

} // namespace cartero::control
