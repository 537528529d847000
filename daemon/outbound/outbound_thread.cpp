// daemon/outbound/outbound_thread.cpp — the outbound io_context's thread: start, hand-over, stop.
#include "daemon/outbound/outbound_thread.hpp"

#include <boost/asio/post.hpp>

#include <future>
#include <memory>

namespace cartero::outbound {

namespace net = boost::asio;

outbound_thread::~outbound_thread() { stop_when_idle(std::chrono::milliseconds(0)); }

void outbound_thread::start(std::function<void(const std::exception&)> on_error) {
    guard_.emplace(io_.get_executor());
    thread_ = std::thread([this, on_error = std::move(on_error)] {
        try {
            io_.run();
        } catch (const std::exception& e) {
            io_.stop();
            if (on_error) on_error(e);
        }
    });
}

bool outbound_thread::run_and_wait(const std::function<void()>& fn) {
    if (!thread_.joinable() || io_.stopped()) return false;
    // The handler owns its promise and a copy of fn: if we give up waiting (the thread was
    // stopped) while it runs, it touches nothing on this stack frame.
    auto done = std::make_shared<std::promise<void>>();
    auto result = done->get_future();
    net::post(io_, [done, fn] {
        try {
            fn();
            done->set_value();
        } catch (...) {
            done->set_exception(std::current_exception());
        }
    });
    while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
        if (io_.stopped()) return false;
    result.get(); // rethrows what fn threw
    return true;
}

void outbound_thread::stop_when_idle(std::chrono::milliseconds grace) {
    guard_.reset();
    if (!thread_.joinable()) return;
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!io_.stopped() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io_.stop();
    thread_.join();
}

} // namespace cartero::outbound
