// tests/unit/queue/queue_id_test.cpp — new_queue_id(): alphabet, length, uniqueness, order.
#include "daemon/queue/queue_store.hpp"

#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("queue ids are [0-9A-Z], at least 12 characters, increasing", "[queue_id]") {
    std::string prev;
    for (int i = 0; i < 10000; ++i) {
        std::string id = cartero::queue::new_queue_id();
        REQUIRE(id.size() >= 12);
        for (char c : id) REQUIRE(((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')));
        // The time part strictly increases within a process, so string order is time order.
        REQUIRE(id > prev);
        prev = id;
    }
}

TEST_CASE("queue ids are unique across threads", "[queue_id]") {
    std::mutex mu;
    std::set<std::string> all;
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; ++t)
        ts.emplace_back([&] {
            std::vector<std::string> mine;
            for (int i = 0; i < 5000; ++i) mine.push_back(cartero::queue::new_queue_id());
            std::lock_guard lk(mu);
            all.insert(mine.begin(), mine.end());
        });
    for (auto& t : ts) t.join();
    CHECK(all.size() == 8u * 5000u);
}

TEST_CASE("two processes in the same microsecond differ in the random part", "[queue_id]") {
    // Same time part is possible across processes; the last 5 characters (25 random bits) are
    // what keeps them apart. Check that they do vary from id to id.
    std::set<std::string> tails;
    for (int i = 0; i < 1000; ++i) tails.insert(cartero::queue::new_queue_id().substr(11));
    CHECK(tails.size() > 990);
}
