// daemon/inbound/async_enqueue.hpp — queue::store::enqueue as an Asio asynchronous operation,
// so a session coroutine can `co_await` the group commit that covers its message.
#pragma once

#include "daemon/queue/queue_store.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <optional>
#include <string>

namespace cartero::inbound {

// Completes on the awaiting coroutine's executor with nullopt once the message is durable,
// or with the store's error text. The work guard keeps the io_context running meanwhile, so
// shutdown waits for every commit already in flight.
template <class Token>
auto async_enqueue(queue::store& store, queue::message m, Token&& token) {
    using signature = void(std::optional<std::string>);
    return boost::asio::async_initiate<Token, signature>(
        [&store](auto handler, queue::message msg) {
            auto ex = boost::asio::get_associated_executor(handler);
            using handler_t = decltype(handler);
            auto h = std::make_shared<handler_t>(std::move(handler));
            auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
            store.enqueue(std::move(msg), [h, work](std::optional<std::string> err) {
                boost::asio::post(work->get_executor(), [h, work, err = std::move(err)]() mutable {
                    (*h)(std::move(err));
                    work->reset();
                });
            });
        },
        token, std::move(m));
}

} // namespace cartero::inbound
