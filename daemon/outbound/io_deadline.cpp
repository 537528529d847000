// daemon/outbound/io_deadline.cpp — the per-connection I/O deadline (see the header).
#include "daemon/outbound/io_deadline.hpp"

namespace cartero::outbound {

io_deadline::io_deadline(boost::asio::any_io_executor ex, std::function<void()> on_expire)
    : st_(std::make_shared<state>(std::move(ex))) {
    st_->on_expire = std::move(on_expire);
}

io_deadline::~io_deadline() {
    st_->closed = true;
    st_->on_expire = nullptr; // it refers to the connection, which is going away
    st_->timer.cancel();
}

void io_deadline::start(std::chrono::steady_clock::duration timeout) {
    if (st_->expired) return;
    st_->due = clock::now() + timeout;
    // A running wait that ends by the new deadline serves it; one that ends later (a shorter
    // timeout than the last one) is replaced.
    if (st_->waiting && st_->timer.expiry() <= st_->due) return;
    st_->timer.expires_at(st_->due); // cancels the old wait: its handler sees a stale gen
    wait(st_);
}

void io_deadline::stop() { st_->due = clock::time_point::max(); }

void io_deadline::wait(const std::shared_ptr<state>& st) {
    st->waiting = true;
    const auto gen = ++st->gen;
    st->timer.async_wait([st, gen](boost::system::error_code ec) {
        if (st->closed || gen != st->gen) return;
        st->waiting = false;
        if (ec) return;
        if (st->due == clock::time_point::max()) return; // idle: the next start() re-arms
        if (clock::now() < st->due) { // the operation running now started later
            st->timer.expires_at(st->due);
            wait(st);
            return;
        }
        st->expired = true;
        if (st->on_expire) st->on_expire();
    });
}

} // namespace cartero::outbound
