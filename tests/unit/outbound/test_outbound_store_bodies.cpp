// tests/unit/outbound/test_outbound_store_bodies.cpp — from_committed keeps a spooled body in
// memory only within the budget, and gives the budget back when the body is dropped.
#include "daemon/outbound/outbound_store.hpp"

#include <catch2/catch.hpp>

using cartero::outbound::outbound_store;

namespace {

std::shared_ptr<const cartero::queue::message> committed(std::size_t size, bool spooled) {
    auto m = std::make_shared<cartero::queue::message>();
    m->id = "Q" + std::to_string(size) + (spooled ? "s" : "m");
    m->body.assign(size, 'b');
    m->spooled = spooled;
    cartero::queue::recipient r;
    r.rcpt_to = r.deliver_to = "u@remote.example";
    r.kind = cartero::queue::rcpt_kind::remote;
    m->rcpts.push_back(r);
    return m;
}

} // namespace

TEST_CASE("outbound_store: spooled bodies stay in memory within the budget, then load from the file") {
    const std::size_t before = outbound_store::spooled_bodies_in_memory();
    const std::size_t chunk = outbound_store::spooled_memory_budget / 4;

    auto small = outbound_store::from_committed(committed(100, false), {1});
    REQUIRE(small->body);
    CHECK(outbound_store::spooled_bodies_in_memory() == before); // not spooled: not counted

    std::vector<std::shared_ptr<cartero::outbound::outbound_message>> kept;
    for (int i = 0; i < 4; ++i) {
        kept.push_back(outbound_store::from_committed(committed(chunk - 1 - i, true), {1}));
        REQUIRE(kept.back()->body);
        CHECK(kept.back()->body->size() == chunk - 1 - i);
    }
    CHECK(outbound_store::spooled_bodies_in_memory() == before + 4 * chunk - 10);
    // The budget is spent: the next one is left to load_body, and costs nothing.
    auto over = outbound_store::from_committed(committed(chunk, true), {1});
    CHECK_FALSE(over->body);
    CHECK(outbound_store::spooled_bodies_in_memory() == before + 4 * chunk - 10);

    // The body stays valid while anyone holds it (the committed message goes with it)…
    auto body = kept[0]->body;
    kept[0].reset();
    CHECK(body->size() == chunk - 1);
    CHECK(outbound_store::spooled_bodies_in_memory() == before + 4 * chunk - 10);
    // …and the budget comes back when the last holder lets go.
    body.reset();
    CHECK(outbound_store::spooled_bodies_in_memory() == before + 3 * chunk - 9);
    auto again = outbound_store::from_committed(committed(chunk - 100, true), {1});
    CHECK(again->body);
    kept.clear();
    again.reset();
    CHECK(outbound_store::spooled_bodies_in_memory() == before);
}
