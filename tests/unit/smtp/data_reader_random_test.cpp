// tests/unit/smtp/data_reader_random_test.cpp — the readers' fast path for clean runs of lines
// (message_sink::take_clean_lines) against the octet-at-a-time path, on random input.
//
// Fed one octet at a time, a reader never sees a whole line, so it never takes the fast path:
// that is the reference. Whole-buffer and random-chunk feeding must give the same octets used,
// the same end, the same verdict, the same stored body and the same dot_free() — which, when
// true, must be right: no stored line starts with ".".
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
    bool dot_free = false;
    bool operator==(const outcome&) const = default;
};

// Octets used, end, verdict, body and dot_free (kept only when accepted: a refusal keeps
// nothing).
outcome result(std::size_t used, bool done, body_verdict verdict, std::string body, bool dot_free) {
    outcome o{used, done, verdict, std::move(body), dot_free};
    if (o.verdict != body_verdict::ok) {
        o.body.clear();
        o.dot_free = false;
    }
    return o;
}

bool has_dot_line(const std::string& body) {
    return (!body.empty() && body[0] == '.') || body.find("\n.") != std::string::npos;
}

// DATA: the input fed in the given chunk sizes (cycled) until the reader stops taking octets.
outcome read_data(const std::string& in, const std::vector<std::size_t>& chunks,
                  const body_limits& limits) {
    data_reader r;
    std::string body;
    r.begin(&body, limits, 0);
    std::size_t pos = 0, k = 0;
    while (pos < in.size() && !r.done()) {
        std::size_t n = std::min(chunks[k++ % chunks.size()], in.size() - pos);
        std::size_t used = r.feed(std::string_view(in).substr(pos, n));
        pos += used;
        if (used < n) break; // the end marker: the rest is not the message's
    }
    return result(pos, r.done(), r.verdict(), std::move(body), r.dot_free());
}

// BDAT: one chunk holding the whole input, read in pieces, then LAST.
outcome read_bdat(const std::string& in, const std::vector<std::size_t>& chunks,
                  const body_limits& limits) {
    bdat_reader r;
    std::string body;
    r.begin(&body, limits, 0);
    r.start_chunk(in.size());
    std::size_t pos = 0, k = 0;
    while (pos < in.size()) {
        std::size_t n = std::min(chunks[k++ % chunks.size()], in.size() - pos);
        pos += r.feed(std::string_view(in).substr(pos, n));
    }
    r.finish();
    return result(pos, r.chunk_done(), r.verdict(), std::move(body), r.dot_free());
}

body_limits random_limits(std::mt19937& rng) {
    body_limits limits;
    limits.max_text_line = 10 + rng() % 30;
    limits.max_message_size = 50 + rng() % 600;
    return limits;
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

// Long lines that are mostly clean, with a few defects (bare CR or LF, dot lines, end markers)
// anywhere, under limits that long lines reach: a line over the limit that also crosses the
// size limit must get the same verdict however the octets were split.
std::string random_long_body(std::mt19937& rng) {
    std::uniform_int_distribution<int> line_len(0, 150), lines(0, 30), pct(0, 99);
    static const char* defects[] = {"\r", "\n", ".", "\r\n.\r\n", "\r\n..", "\n\r"};
    std::string s;
    for (int l = lines(rng); l > 0; --l) {
        if (pct(rng) < 5) s += '.';
        for (int i = line_len(rng); i > 0; --i) s += static_cast<char>('a' + i % 26);
        s += "\r\n";
        if (pct(rng) < 4) s += defects[rng() % 6];
    }
    return s + ".\r\n";
}

body_limits random_long_limits(std::mt19937& rng) {
    body_limits limits;
    limits.max_text_line = 40 + rng() % 160;
    limits.max_message_size = 200 + rng() % 6000;
    return limits;
}

std::vector<std::size_t> random_chunks(std::mt19937& rng) {
    std::uniform_int_distribution<std::size_t> size(1, 50), count(1, 8);
    std::vector<std::size_t> c(count(rng));
    for (auto& x : c) x = size(rng);
    return c;
}

} // namespace

// One octet at a time is the reference; whole-buffer and random-chunk feeding must agree.
template <class Read> void compare_with_octet_reading(std::uint32_t seed, Read read, bool long_lines = false) {
    std::mt19937 rng(seed);
    for (int round = 0; round < 3000; ++round) {
        const std::string in = long_lines ? random_long_body(rng) : random_body(rng);
        const body_limits limits = long_lines ? random_long_limits(rng) : random_limits(rng);
        const auto ref = read(in, {1}, limits);
        INFO("round " << round << " input " << in.size() << " octets");
        CHECK(read(in, {in.size() + 1}, limits) == ref);
        CHECK(read(in, random_chunks(rng), limits) == ref);
        if (ref.dot_free) CHECK_FALSE(has_dot_line(ref.body));
    }
}

TEST_CASE("data_reader: clean-line fast path matches the octet-at-a-time reader") {
    compare_with_octet_reading(20261123, read_data);
}

TEST_CASE("bdat_reader: clean-line fast path matches the octet-at-a-time reader") {
    compare_with_octet_reading(3030, read_bdat);
}

TEST_CASE("data_reader: long lines, both limits: the octet-at-a-time reader's verdict") {
    compare_with_octet_reading(6464, read_data, true);
}

TEST_CASE("bdat_reader: long lines, both limits: the octet-at-a-time reader's verdict") {
    compare_with_octet_reading(646464, read_bdat, true);
}

TEST_CASE("readers: dot_free for a message without leading dots, not after one") {
    body_limits limits;
    const std::string plain = "Subject: a\r\n\r\nbody . with dots.\r\n\r\nend\r\n";
    CHECK(read_data(plain + ".\r\n", {7}, limits).dot_free);
    CHECK(read_bdat(plain, {7}, limits).dot_free);
    CHECK_FALSE(read_data(plain + "..stuffed\r\n.\r\n", {7}, limits).dot_free);
    CHECK_FALSE(read_bdat(plain + ".raw\r\n", {7}, limits).dot_free);
    CHECK_FALSE(read_bdat(".first\r\n", {1}, limits).dot_free);
    // A line split across reads, its start in the later one.
    CHECK_FALSE(read_bdat("ab\r\n.x\r\n", {4, 1}, limits).dot_free);
}
