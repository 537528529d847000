// tests/unit/smtp/path_parser_test.cpp — RFC 5321 §4.1.2 path parsing table, ESMTP parameters.
#include "daemon/smtp/esmtp_params.hpp"
#include "daemon/smtp/path_parser.hpp"

#include <catch2/catch.hpp>

using namespace cartero::smtp;

namespace {
struct ok_case {
    const char* in;
    path_kind kind;
    const char* local;
    const char* domain;
    const char* address;
    bool quoted, route, null, utf8;
};
} // namespace

TEST_CASE("paths that parse", "[smtp][path]") {
    const auto F = path_kind::forward;
    const auto R = path_kind::reverse;
    const ok_case cases[] = {
        {"<user@example.com>", F, "user", "example.com", "user@example.com", false, false, false, false},
        {"<First.Last+tag@Sub.Example.COM>", F, "First.Last+tag", "Sub.Example.COM",
         "First.Last+tag@Sub.Example.COM", false, false, false, false},
        {"<>", R, "", "", "", false, false, true, false},
        {"<\"a@b\"@c.example>", F, "a@b", "c.example", "\"a@b\"@c.example", true, false, false, false},
        {"<\"john doe\"@c.example>", F, "john doe", "c.example", "\"john doe\"@c.example", true, false, false, false},
        {"<\"a\\\"b\\\\c\"@c.example>", F, "a\"b\\c", "c.example", "\"a\\\"b\\\\c\"@c.example", true, false, false, false},
        {"<\"plain\"@c.example>", F, "plain", "c.example", "plain@c.example", true, false, false, false},
        {"<u@[192.0.2.1]>", F, "u", "[192.0.2.1]", "u@[192.0.2.1]", false, false, false, false},
        {"<u@[IPv6:2001:db8::1]>", F, "u", "[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]", false, false, false, false},
        {"<u@[IPv6:::ffff:192.0.2.1]>", F, "u", "[IPv6:::ffff:192.0.2.1]", "u@[IPv6:::ffff:192.0.2.1]", false, false, false, false},
        {"<u@[IPv6:1:2:3:4:5:6:7:8]>", F, "u", "[IPv6:1:2:3:4:5:6:7:8]", "u@[IPv6:1:2:3:4:5:6:7:8]", false, false, false, false},
        {"<@a.example,@b.example:user@c.example>", F, "user", "c.example", "user@c.example", false, true, false, false},
        {"<@relay.example:user@c.example>", R, "user", "c.example", "user@c.example", false, true, false, false},
        // Relay tricks are ordinary local parts here; policy refuses to relay them.
        {"<user%other.example@c.example>", F, "user%other.example", "c.example",
         "user%other.example@c.example", false, false, false, false},
        {"<host!user@c.example>", F, "host!user", "c.example", "host!user@c.example", false, false, false, false},
        {"<Postmaster>", F, "Postmaster", "", "Postmaster", false, false, false, false},
        {"<POSTMASTER>", F, "POSTMASTER", "", "POSTMASTER", false, false, false, false},
        {"<josé@exämple.de>", F, "josé", "exämple.de", "josé@exämple.de", false, false, false, true},
        {"<\"ü x\"@c.example>", F, "ü x", "c.example", "\"ü x\"@c.example", true, false, false, true},
        {"<a-b@x-y.example>", F, "a-b", "x-y.example", "a-b@x-y.example", false, false, false, false},
        {"<1@2.3>", F, "1", "2.3", "1@2.3", false, false, false, false},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        auto r = parse_path(c.in, c.kind);
        REQUIRE(r.ok());
        CHECK(r.length == std::string_view(c.in).size());
        CHECK(r.value.local == c.local);
        CHECK(r.value.domain == c.domain);
        CHECK(r.value.address() == c.address);
        CHECK(r.value.quoted == c.quoted);
        CHECK(r.value.had_source_route == c.route);
        CHECK(r.value.null_path == c.null);
        CHECK(r.utf8 == c.utf8);
    }
    auto r = parse_path("<u@[192.0.2.1]>", path_kind::forward);
    CHECK(r.value.is_address_literal());
    CHECK(r.value.raw == "u@[192.0.2.1]");
    CHECK_FALSE(parse_path("<u@c.example>", path_kind::forward).value.is_address_literal());
}

TEST_CASE("paths that do not parse", "[smtp][path]") {
    struct bad_case {
        const char* in;
        path_kind kind;
        path_error err;
    };
    const auto F = path_kind::forward;
    const auto R = path_kind::reverse;
    std::string long_local = "<" + std::string(65, 'a') + "@c.example>";
    std::string ok_local = "<" + std::string(64, 'a') + "@c.example>";
    std::string long_label = "<a@" + std::string(64, 'd') + ".example>";
    std::string long_path = "<a@" + std::string(62, 'd') + "." + std::string(62, 'd') + "." +
                            std::string(62, 'd') + "." + std::string(62, 'd') + ".ex>"; // 258
    const bad_case cases[] = {
        {"<>", F, path_error::syntax},
        {"<Postmaster>", R, path_error::syntax},
        {"<\"Postmaster\">", F, path_error::syntax},
        {"<postmistress>", F, path_error::syntax},
        {"user@example.com", F, path_error::syntax},
        {"<user@example.com", F, path_error::syntax},
        {"<user>", F, path_error::syntax},
        {"<@example.com>", F, path_error::syntax},
        {"<user@>", F, path_error::syntax},
        {"<.user@c.example>", F, path_error::syntax},
        {"<user.@c.example>", F, path_error::syntax},
        {"<us..er@c.example>", F, path_error::syntax},
        {"<us er@c.example>", F, path_error::syntax},
        {"<us(er@c.example>", F, path_error::syntax},
        {"<\"unterminated@c.example>", F, path_error::syntax},
        {"<\"tab\there\"@c.example>", F, path_error::syntax},
        {"<u@-c.example>", F, path_error::syntax},
        {"<u@c-.example>", F, path_error::syntax},
        {"<u@c..example>", F, path_error::syntax},
        {"<u@c.example.>", F, path_error::syntax},
        {"<u@c_d.example>", F, path_error::syntax},
        {"<u@[256.0.0.1]>", F, path_error::syntax},
        {"<u@[1.2.3]>", F, path_error::syntax},
        {"<u@[1.2.3.4.5]>", F, path_error::syntax},
        {"<u@[IPv6:1::2::3]>", F, path_error::syntax},
        {"<u@[IPv6:1:2:3:4:5:6:7]>", F, path_error::syntax},
        {"<u@[IPv6:12345::1]>", F, path_error::syntax},
        {"<u@[x-tag:stuff]>", F, path_error::unsupported_literal},
        {"<u@[192.0.2.1>", F, path_error::syntax},
        {"<@a.example:>", F, path_error::syntax},
        {"<@a.example;@b:u@c.example>", F, path_error::syntax},
        {"<@:u@c.example>", F, path_error::syntax},
        {"<u@c.example>>", F, path_error::none}, // trailing text is the caller's business
        {"<\xc3" "A@c.example>", F, path_error::bad_utf8}, // lead byte, no continuation
        {"<\xed\xa0\x80@c.example>", F, path_error::bad_utf8}, // UTF-16 surrogate
        {"<\xc0\xaf@c.example>", F, path_error::bad_utf8},     // overlong
        {"<u@c.example\xe2\x82>", F, path_error::bad_utf8},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        CHECK(parse_path(c.in, c.kind).error == c.err);
    }
    CHECK(parse_path(long_local, F).error == path_error::local_too_long);
    CHECK(parse_path(ok_local, F).ok());
    CHECK(parse_path(long_label, F).error == path_error::domain_too_long);
    CHECK(long_path.size() == 258);
    CHECK(parse_path(long_path, F).error == path_error::too_long);
    std::string at_limit = long_path.substr(0, 251) + "x.ex>"; // 256
    CHECK(at_limit.size() == 256);
    CHECK(parse_path(at_limit, F).ok());
}

TEST_CASE("building blocks", "[smtp][path]") {
    CHECK(is_ipv6_literal("::"));
    CHECK(is_ipv6_literal("::1"));
    CHECK(is_ipv6_literal("fe80::"));
    CHECK(is_ipv6_literal("1:2:3:4:5:6:1.2.3.4"));
    CHECK_FALSE(is_ipv6_literal("1:2:3:4:5:6:7:1.2.3.4"));
    CHECK_FALSE(is_ipv6_literal(":1"));
    CHECK_FALSE(is_ipv6_literal("1:"));
    CHECK_FALSE(is_ipv6_literal("g::1"));
    CHECK(is_ipv4_literal("0.0.0.0"));
    CHECK_FALSE(is_ipv4_literal("1.2.3.04444"));
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("\xf0\x9f\x93\xa7")); // U+1F4E7
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // > U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));
}

TEST_CASE("MAIL/RCPT argument and parameter parsing", "[smtp][params]") {
    auto a = parse_mail_rcpt_args("from:<a@b.example>  SIZE=12   body=8BITMIME SMTPUTF8",
                                  "FROM:", path_kind::reverse);
    REQUIRE(a.error == args_error::none);
    REQUIRE(a.params.size() == 3);
    CHECK(a.params[0].keyword == "SIZE");
    CHECK(a.params[0].value == "12");
    CHECK(a.params[1].keyword == "BODY");
    CHECK(a.params[1].value == "8BITMIME");
    CHECK(a.params[2].keyword == "SMTPUTF8");
    CHECK(a.params[2].value.empty());
    CHECK(parse_mail_rcpt_args("FROM: <a@b.example>", "FROM:", path_kind::reverse).error ==
          args_error::none);
    CHECK(parse_mail_rcpt_args("FROM:  <a@b.example>", "FROM:", path_kind::reverse).error ==
          args_error::syntax);
    CHECK(parse_mail_rcpt_args("FROM <a@b.example>", "FROM:", path_kind::reverse).error ==
          args_error::syntax);
    CHECK(parse_mail_rcpt_args("TO:<\"a b\"@c.example> X=Y", "TO:", path_kind::forward).params.size() == 1);
    CHECK(parse_mail_rcpt_args("TO:<a@c.example> X=", "TO:", path_kind::forward).error ==
          args_error::bad_params);
    CHECK(parse_mail_rcpt_args("TO:<a@c.example> -X", "TO:", path_kind::forward).error ==
          args_error::bad_params);
    CHECK(parse_mail_rcpt_args("TO:<a@c.example> X=a=b", "TO:", path_kind::forward).error ==
          args_error::bad_params);
    CHECK(parse_mail_rcpt_args("TO:<a@@c.example>", "TO:", path_kind::forward).error ==
          args_error::bad_path);
}
