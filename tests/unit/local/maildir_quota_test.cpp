// tests/unit/local/maildir_quota_test.cpp — maildirsize: parse, format, append, recalculation.
#include "daemon/local/maildir_quota.hpp"
#include "tests/unit/queue/test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace cartero::local;
using cartero::test::temp_dir;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void put(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

// A Maildir with 100 + 50 bytes in INBOX, 25 in .Junk and one 7-byte file without S=.
void populate(const fs::path& md) {
    put(md / "new" / "1.a.host,S=100", std::string(100, 'x'));
    put(md / "cur" / "2.b.host,S=50:2,S", std::string(50, 'x'));
    put(md / ".Junk" / "cur" / "3.c.host,S=25:2,", std::string(25, 'x'));
    put(md / ".Junk" / "new" / "4.d.host", "1234567");
    fs::create_directories(md / "tmp");
    put(md / "tmp" / "5.e.host,S=999", "not counted: tmp/ is not mail yet");
}

} // namespace

TEST_CASE("maildirsize parses limits and sums value lines", "[maildir_quota]") {
    auto f = parse_maildirsize("1000S\n100 2\n50 1\n-20 -1\n");
    REQUIRE(f);
    CHECK(f->limit_bytes == 1000);
    CHECK(f->limit_count == 0);
    CHECK(f->usage.bytes == 130);
    CHECK(f->usage.count == 2);
    CHECK(f->value_lines == 3);

    f = parse_maildirsize("5000S,10C\n0 0\n");
    REQUIRE(f);
    CHECK(f->limit_bytes == 5000);
    CHECK(f->limit_count == 10);

    f = parse_maildirsize("0S\n12 1\n"); // Dovecot's "no limit"
    REQUIRE(f);
    CHECK(f->limit_bytes == 0);
    CHECK(f->usage.bytes == 12);
}

TEST_CASE("maildirsize ignores a last line still being appended", "[maildir_quota]") {
    auto f = parse_maildirsize("1000S\n100 2\n50");
    REQUIRE(f);
    CHECK(f->usage.bytes == 100);
    CHECK(f->usage.count == 2);
}

TEST_CASE("broken maildirsize files ask for a recalculation", "[maildir_quota]") {
    CHECK_FALSE(parse_maildirsize(""));
    CHECK_FALSE(parse_maildirsize("1000S\n"));             // no value line
    CHECK_FALSE(parse_maildirsize("1000S\nabc def\n"));    // not numbers
    CHECK_FALSE(parse_maildirsize("1000S\n100\n"));        // one field
    CHECK_FALSE(parse_maildirsize("1000S\n10 1\n-50 -2\n")); // negative total
    CHECK_FALSE(parse_maildirsize(std::string("1000S\n10 1\n\0\n", 12)));
    CHECK_FALSE(parse_maildirsize("100S\n80 1\n80 1\n"));  // over the limit, summed from deltas
    CHECK(parse_maildirsize("100S\n160 2\n"));             // over, but one fresh summary line
    std::string big = "0S\n";
    while (big.size() < maildirsize_max_bytes) big += "1000 1\n";
    CHECK_FALSE(parse_maildirsize(big));
}

TEST_CASE("maildirsize is formatted as Dovecot writes it", "[maildir_quota]") {
    CHECK(format_maildirsize(0, 0, {0, 0}) == "0S\n0 0\n");
    CHECK(format_maildirsize(1048576, 0, {300, 4}) == "1048576S\n300 4\n");
    CHECK(format_maildirsize(1000, 20, {1, 1}) == "1000S,20C\n1 1\n");
    CHECK(format_maildirsize(0, 20, {1, 1}) == "20C\n1 1\n");
}

TEST_CASE("a missing maildirsize is recalculated from new/ and cur/ of every folder", "[maildir_quota]") {
    temp_dir t;
    const auto md = t.path / "example.com" / "user";
    populate(md);
    CHECK(scan_maildir(md).bytes == 100 + 50 + 25 + 7);
    CHECK(scan_maildir(md).count == 4);

    // would_fit reads only: no file appears.
    CHECK(would_fit(md, 1000, 800));
    CHECK_FALSE(would_fit(md, 1000, 900));
    CHECK(would_fit(md, 0, 1u << 30)); // unlimited
    CHECK_FALSE(fs::exists(md / "maildirsize"));

    auto u = quota_usage(md, 1000);
    CHECK(u.bytes == 182);
    CHECK(u.count == 4);
    CHECK(slurp(md / "maildirsize") == "1000S\n182 4\n");
}

TEST_CASE("maildirsize appends are summed; corrupt and oversized files are rebuilt", "[maildir_quota]") {
    temp_dir t;
    const auto md = t.path / "m";
    populate(md);
    REQUIRE(quota_usage(md, 1000).bytes == 182);
    REQUIRE(maildirsize_append(md, 40, 1));
    CHECK(slurp(md / "maildirsize") == "1000S\n182 4\n40 1\n");
    CHECK(quota_usage(md, 1000).bytes == 222); // trusted: no rescan (40 bytes are not on disk)

    put(md / "maildirsize", "1000S\nthis is not a number\n");
    CHECK(quota_usage(md, 1000).bytes == 182);
    CHECK(slurp(md / "maildirsize") == "1000S\n182 4\n");

    std::string big = "1000S\n182 4\n";
    while (big.size() < maildirsize_max_bytes + 10) big += "0 0\n";
    put(md / "maildirsize", big);
    CHECK(quota_usage(md, 1000).bytes == 182);
    CHECK(slurp(md / "maildirsize") == "1000S\n182 4\n");

    // The configured limit changed: the file is rewritten with the new one.
    CHECK(quota_usage(md, 5000).bytes == 182);
    CHECK(slurp(md / "maildirsize") == "5000S\n182 4\n");
    // Without a configured limit the file's own is kept.
    CHECK(quota_usage(md).bytes == 182);
    CHECK(slurp(md / "maildirsize") == "5000S\n182 4\n");
}

TEST_CASE("append without a maildirsize does nothing; a missing Maildir has no usage", "[maildir_quota]") {
    temp_dir t;
    CHECK(maildirsize_append(t.path, 10, 1));
    CHECK_FALSE(fs::exists(t.path / "maildirsize"));
    CHECK(quota_usage(t.path / "nope", 1000).bytes == 0);
    CHECK_FALSE(fs::exists(t.path / "nope"));
}
