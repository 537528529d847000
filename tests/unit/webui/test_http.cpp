// tests/unit/webui/test_http.cpp — request helpers, redirect targets, maildirsize usage.
#include "webui/http.hpp"
#include "webui/maildir_usage.hpp"
#include "webui/server.hpp"

#include <catch2/catch.hpp>

using namespace cartero::webui;

TEST_CASE("cookies and query parameters") {
    http_request r;
    r.headers["cookie"] = "a=1; __Host-cartero_session=abc ; b=2";
    CHECK(r.cookie("__Host-cartero_session").value() == "abc");
    CHECK(r.cookie("b").value() == "2");
    CHECK_FALSE(r.cookie("c"));
    r.query = "domain=ex%40ample.org&x=a+b&x=second&empty=";
    auto q = r.query_params();
    CHECK(q["domain"] == "ex@ample.org");
    CHECK(q["x"] == "a b");
    CHECK(q["empty"] == "");
    CHECK(percent_decode("%zz%4", false) == "%zz%4");
}

TEST_CASE("redirect targets name the HTTPS port and never carry header injection") {
    CHECK(redirect_target("mail.example:8080", "127.0.0.1", 8443, "/x", "a=1") ==
          "https://mail.example:8443/x?a=1");
    CHECK(redirect_target("", "127.0.0.1", 443, "/", "") == "https://127.0.0.1/");
    CHECK(redirect_target("evil\r\nx", "127.0.0.1", 10443, "/", "") == "https://127.0.0.1:10443/");
    CHECK(redirect_target("[::1]:80", "127.0.0.1", 10443, "/p", "") == "https://[::1]:10443/p");
    CHECK(redirect_target("h", "127.0.0.1", 10443, "/a b\r\n", "") == "https://h:10443/a_b__");
}

TEST_CASE("maildirsize usage sums the lines after the quota line") {
    auto u = parse_maildirsize_usage("1073741824S,0C\n1000 2\n500 1\n-200 -1\n");
    CHECK(u.bytes == 1300);
    CHECK(u.messages == 2);
    CHECK(parse_maildirsize_usage("").bytes == 0);
    CHECK(parse_maildirsize_usage("0S\ngarbage\n10 1\n").bytes == 10);
    CHECK(read_maildir_usage("/nonexistent", "example.org", "..").bytes == 0);
}
