// daemon/outbound/io_deadline.hpp — one timer per connection that bounds each read and write
// (RFC 5321 §4.5.3.2), without a timer and a parallel group per operation.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace cartero::outbound {

// start(d) before an operation, stop() after it: both only note a time. The timer wakes at the
// earliest deadline it was given; if an operation is still running past its own deadline then,
// on_expire runs (it cancels the socket, so the operation ends with operation_aborted) and
// expired() turns true for good; otherwise it sleeps again until the deadline now in force.
// A connection that reuses its socket for a hundred messages arms its timer a few times, not
// once per read and write (a `t.async_wait() || read` pair spawns two coroutines each time:
// ~15 % of the outbound thread's instructions at 100 KB).
// Single-threaded: start, stop and the timer's handler run on the executor's thread.
class io_deadline {
public:
    io_deadline(boost::asio::any_io_executor ex, std::function<void()> on_expire);
    ~io_deadline(); // the timer's pending handler finds the state closed and does nothing
    io_deadline(const io_deadline&) = delete;
    io_deadline& operator=(const io_deadline&) = delete;

    void start(std::chrono::steady_clock::duration timeout); // the next operation's bound
    void stop();                                              // it finished in time
    bool expired() const { return st_->expired; }

private:
    using clock = std::chrono::steady_clock;
    struct state {
        explicit state(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}
        boost::asio::steady_timer timer;
        clock::time_point due = clock::time_point::max(); // max: no operation running
        std::function<void()> on_expire;
        std::uint64_t gen = 0; // the wait that counts (an earlier deadline re-arms the timer)
        bool waiting = false;
        bool expired = false;
        bool closed = false;
    };
    static void wait(const std::shared_ptr<state>& st);
    std::shared_ptr<state> st_;
};

} // namespace cartero::outbound
