// tests/unit/smtp/client_dot_stuffer_test.cpp — dot_stuffer: leading dots, CRLF repair, end marker.
#include "daemon/smtp/dot_stuffer.hpp"

#include <catch2/catch.hpp>

using namespace cartero::smtp;

TEST_CASE("dot_stuffer: leading dots doubled (RFC 5321 §4.5.2)", "[smtp][client][dot]") {
    CHECK(dot_stuff(".\r\n") == "..\r\n.\r\n");
    CHECK(dot_stuff("..\r\n") == "...\r\n.\r\n");
    CHECK(dot_stuff("a\r\n.b\r\nc.d\r\n.\r\n") == "a\r\n..b\r\nc.d\r\n..\r\n.\r\n");
    CHECK(dot_stuff(".first line") == "..first line\r\n.\r\n");
}

TEST_CASE("dot_stuffer: final CRLF and empty bodies", "[smtp][client][dot]") {
    CHECK(dot_stuff("") == ".\r\n");
    CHECK(dot_stuff("no final crlf") == "no final crlf\r\n.\r\n");
    CHECK(dot_stuff("x\r\n") == "x\r\n.\r\n");
    CHECK(dot_stuff("x\r\n\r\n") == "x\r\n\r\n.\r\n");
}

TEST_CASE("dot_stuffer: bare CR and LF become CRLF (RFC 5321 §2.3.8)", "[smtp][client][dot]") {
    CHECK(dot_stuff("a\nb\n") == "a\r\nb\r\n.\r\n");
    CHECK(dot_stuff("a\rb") == "a\r\nb\r\n.\r\n");
    CHECK(dot_stuff("a\n.\n") == "a\r\n..\r\n.\r\n"); // smuggling attempt stays content
    CHECK(dot_stuff("a\r") == "a\r\n.\r\n");
}

TEST_CASE("dot_stuffer: any chunking gives the same stream", "[smtp][client][dot]") {
    const std::string body = ".a\r\n..\r\nb\r\n.\r\n\r\n.c\rd\ne.";
    const std::string expect = dot_stuff(body);
    for (std::size_t step = 1; step <= body.size(); ++step) {
        dot_stuffer s;
        std::string out;
        for (std::size_t i = 0; i < body.size(); i += step) s.append(body.substr(i, step), out);
        s.finish(out);
        INFO("step " << step);
        CHECK(out == expect);
    }
    CHECK(expect == "..a\r\n...\r\nb\r\n..\r\n\r\n..c\r\nd\r\ne.\r\n.\r\n");
}

namespace {
// The rules stated one byte at a time: the reference the vectorised scan must match.
std::string reference_stuff(const std::string& in) {
    std::string out;
    bool bol = true;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '\r' || c == '\n') {
            out += "\r\n";
            if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
            bol = true;
            continue;
        }
        if (bol && c == '.') out += '.';
        out += c;
        bol = false;
    }
    if (!bol) out += "\r\n";
    return out + ".\r\n";
}
} // namespace

TEST_CASE("dot_stuffer: random bodies of dots, CRs and LFs match the byte-wise rules",
          "[smtp][client][dot]") {
    std::uint32_t seed = 12345; // fixed: reproducible
    auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
    const char alphabet[] = {'a', 'b', '.', '\r', '\n', ' '};
    for (int round = 0; round < 2000; ++round) {
        std::string body(next() % 200, 'x');
        for (auto& c : body) c = alphabet[(next() >> 8) % sizeof(alphabet)];
        const std::string expect = reference_stuff(body);
        const std::size_t step = 1 + (next() >> 8) % 17;
        dot_stuffer s;
        std::string out;
        for (std::size_t i = 0; i < body.size(); i += step) s.append(std::string_view(body).substr(i, step), out);
        s.finish(out);
        INFO("round " << round << " step " << step);
        REQUIRE(out == expect);
        REQUIRE(dot_stuff(body) == expect);
    }
}
