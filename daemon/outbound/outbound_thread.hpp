// daemon/outbound/outbound_thread.hpp — the thread (and io_context) outbound delivery runs on.
//
// carterod's io thread used to carry both sides: at 100 sessions of 100 KB it sat at one full
// core while the machine had a third of a core idle and delivery lagged acceptance. The
// outbound side already talks to the rest of carterod only through posts (queue commits, admin
// events, resolver answers), so it gets an io_context of its own; inbound, control and timers
// stay on the main one.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <thread>

namespace cartero::outbound {

class outbound_thread {
public:
    outbound_thread() = default;
    ~outbound_thread(); // stops and joins (stop_when_idle(0) if nobody did)
    outbound_thread(const outbound_thread&) = delete;
    outbound_thread& operator=(const outbound_thread&) = delete;

    boost::asio::io_context& io() { return io_; }

    // Runs io() on a new thread until stop_when_idle(). `on_error` runs on that thread if a
    // handler throws (the thread then ends; carterod should stop).
    void start(std::function<void(const std::exception&)> on_error);
    // Runs fn on the outbound thread and waits for it. Returns false (fn not run) when the
    // thread stopped first. Never call it from the outbound thread.
    bool run_and_wait(const std::function<void()>& fn);
    // Lets io().run() return once nothing is left to do, waiting at most `grace`; then stops
    // it (handlers not run yet are dropped: queue.db has what they were about) and joins.
    void stop_when_idle(std::chrono::milliseconds grace);
    // Stops at once (forced shutdown); join happens in stop_when_idle or the destructor.
    void stop_now() { io_.stop(); }

private:
    boost::asio::io_context io_{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
    std::thread thread_;
};

} // namespace cartero::outbound
