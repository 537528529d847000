// tests/unit/smtp/data_reader_random_test.cpp — the readers' fast path for clean runs of lines
// (message_sink::take_clean_lines) against the octet-at-a-time path, on random input.
//
// Fed one octet at a time, a reader never sees a whole line, so it never takes the fast path:
// that is the reference. Whole-buffer and random-chunk feeding must give the same octets used,
// the same end, the same verdict and the same stored body.
#include "daemon/smtp/data_reader.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>

using namespace cartero::smtp;

namespace {

struct outcome {
    std::size_t used = 0;
    bool done = false;
    body_verdict verdict = body_verdict::ok;
    std::string body;
    bool operator==(const outcome&) const = default;
};

template <class Reader, class Begin, class Feed, class Done>
outcome run(const std::string& in, std::vector<std::size_t> chunks, Begin begin, Feed feed,
            Done done) {
    Reader r;
    outcome o;
    begin(r, &o.body);
    std::size_t pos = 0, k = 0;
    while (pos < in.size() && !done(r)) {
        std::size_t n = std::min(chunks[k++ % chunks.size()], in.size() - pos);
        std::size_t used = feed(r, std::string_view(in).substr(pos, n));
        pos += used;
        if (used < n) break; // the reader stopped (end of message or end of chunk)
    }
    o.used = pos;
    o.done = done(r);
    o.verdict = r.verdict();
    if (o.verdict != body_verdict::ok) o.body.clear(); // refused: what was kept is not compared
    return o;
}

std::string random_body(std::mt19937& rng) {
    static const char alphabet[] = {'a', 'b', '.', '\r', '\n', '\r', '\n', 'x'};
    std::uniform_int_distribution<int> pick(0, 7), line_len(0, 30), lines(0, 40), coin(0, 9);
    std::string s;
    for (int l = lines(rng); l > 0; --l) {
        if (coin(rng) < 3) s += '.';
        for (int i = line_len(rng); i > 0; --i)
            s += coin(rng) == 0 ? alphabet[pick(rng)] : 'a';
        s += coin(rng) == 0 ? "\n" : "\r\n";
        if (coin(rng) == 0) s += ".\r\nMAIL FROM:<x@y>\r\n"; // an end marker, then a command
    }
    return s;
}

std::vector<std::size_t> random_chunks(std::mt19937& rng) {
    std::uniform_int_distribution<std::size_t> size(1, 50), count(1, 8);
    std::vector<std::size_t> c(count(rng));
    for (auto& x : c) x = size(rng);
    return c;
}

} // namespace

TEST_CASE("data_reader: clean-line fast path matches the octet-at-a-time reader") {
    std::mt19937 rng(20261123);
    for (int round = 0; round < 3000; ++round) {
        const std::string in = random_body(rng);
        body_limits limits;
        limits.max_text_line = 10 + rng() % 30;
        limits.max_message_size = 50 + rng() % 600;
        auto begin = [&](data_reader& r, std::string* out) { r.begin(out, limits, 0); };
        auto feed = [](data_reader& r, std::string_view v) { return r.feed(v); };
        auto done = [](data_reader& r) { return r.done(); };
        const auto ref = run<data_reader>(in, {1}, begin, feed, done);
        const auto whole = run<data_reader>(in, {in.size() + 1}, begin, feed, done);
        const auto pieces = run<data_reader>(in, random_chunks(rng), begin, feed, done);
        INFO("round " << round << " input " << in.size() << " octets");
        CHECK(whole == ref);
        CHECK(pieces == ref);
    }
}

TEST_CASE("bdat_reader: clean-line fast path matches the octet-at-a-time reader") {
    std::mt19937 rng(3030);
    for (int round = 0; round < 3000; ++round) {
        const std::string in = random_body(rng);
        body_limits limits;
        limits.max_text_line = 10 + rng() % 30;
        limits.max_message_size = 50 + rng() % 600;
        // One BDAT chunk holding the whole input, read in pieces, then LAST.
        auto read = [&](std::vector<std::size_t> chunks) {
            bdat_reader r;
            outcome o;
            r.begin(&o.body, limits, 0);
            r.start_chunk(in.size());
            std::size_t k = 0;
            while (o.used < in.size()) {
                std::size_t n = std::min(chunks[k++ % chunks.size()], in.size() - o.used);
                o.used += r.feed(std::string_view(in).substr(o.used, n));
            }
            r.finish();
            o.done = r.chunk_done();
            o.verdict = r.verdict();
            if (o.verdict != body_verdict::ok) o.body.clear();
            return o;
        };
        const auto ref = read({1});
        INFO("round " << round << " input " << in.size() << " octets");
        CHECK(read({in.size() + 1}) == ref);
        CHECK(read(random_chunks(rng)) == ref);
    }
}
