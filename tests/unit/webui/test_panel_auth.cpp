// tests/unit/webui/test_panel_auth.cpp — panel_app without sockets: login, sessions (idle and
// absolute expiry), CSRF, API tokens, throttling (429), error shapes, headers, static files.
#include "core/admin_store.hpp"
#include "core/config_db.hpp"
#include "webui/http.hpp"
#include "webui/panel_app.hpp"
#include "webui/totp.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <memory>

using namespace cartero;
using namespace cartero::webui;
using nlohmann::json;

namespace {

struct fixture {
    std::filesystem::path dir;
    std::shared_ptr<std::int64_t> now = std::make_shared<std::int64_t>(1'800'000'000);
    std::unique_ptr<panel_app> app;

    fixture() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "cartero-webui-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()));
        dir = tmpl;
        std::filesystem::create_directories(dir / "static");
        std::ofstream(dir / "static/index.html") << "<!doctype html><title>x</title>";
        std::ofstream(dir / "secret.txt") << "outside the static dir";
        {
            auto db = config::config_db::open((dir / "config.db").string(), true);
            admin::add_admin(db, "admin", "correct horse battery");
            admin::add_admin(db, "other", "another password");
        }
        panel_config cfg;
        cfg.state_dir = dir.string();
        cfg.static_dir = (dir / "static").string();
        cfg.account_throttle = {3, 900, 600};
        cfg.ip_throttle = {6, 900, 600};
        cfg.session_idle_seconds = 100;
        cfg.session_max_seconds = 1000;
        auto clock = now;
        cfg.clock = [clock] { return *clock; };
        app = std::make_unique<panel_app>(cfg);
    }
    ~fixture() { std::filesystem::remove_all(dir); }

    http_response call(const std::string& method, const std::string& path, const std::string& body = "",
                       std::map<std::string, std::string> headers = {}, const std::string& ip = "192.0.2.1") {
        http_request r;
        r.method = method;
        auto q = path.find('?');
        r.path = path.substr(0, q);
        if (q != std::string::npos) r.query = path.substr(q + 1);
        r.body = body;
        r.headers = std::move(headers);
        if (!body.empty() && !r.headers.count("content-type")) r.headers["content-type"] = "application/json";
        r.remote_addr = ip;
        r.tls = true;
        return app->handle(r);
    }

    http_response login(const std::string& user, const std::string& pw, const std::string& ip = "192.0.2.1") {
        return call("POST", "/api/v1/session", json{{"username", user}, {"password", pw}}.dump(), {}, ip);
    }

    static std::string header(const http_response& r, const std::string& name) {
        for (const auto& [k, v] : r.headers)
            if (k == name) return v;
        return {};
    }
    static std::string cookie_of(const http_response& r) {
        auto c = header(r, "Set-Cookie");
        return c.substr(0, c.find(';'));
    }
};

json body_of(const http_response& r) { return json::parse(r.body); }

} // namespace

TEST_CASE("without credentials the API answers 401 in the error shape") {
    fixture f;
    auto r = f.call("GET", "/api/v1/domains");
    CHECK(r.status == 401);
    CHECK(body_of(r).contains("error"));
    CHECK(body_of(r)["field"] == "");
    CHECK(f.call("GET", "/api/v1/domains", "", {{"authorization", "Bearer ct_nope"}}).status == 401);
    CHECK(f.call("GET", "/api/v1/domains", "", {{"authorization", "Basic YWRtaW46eA=="}}).status == 401);
    CHECK(f.call("GET", "/api/v1/domains", "", {{"cookie", std::string(session_cookie) + "=forged"}}).status == 401);
}

TEST_CASE("login sets a Secure HttpOnly SameSite=Strict cookie; CSRF guards state changes") {
    fixture f;
    auto bad = f.login("admin", "wrong");
    CHECK(bad.status == 401);
    CHECK(body_of(bad)["field"] == "password");
    CHECK(body_of(bad)["error"] == body_of(f.login("nobody", "wrong"))["error"]); // no enumeration
    CHECK(bad.body.find("wrong\"") == std::string::npos); // the password is not echoed

    auto ok = f.login("admin", "correct horse battery");
    REQUIRE(ok.status == 200);
    auto set = fixture::header(ok, "Set-Cookie");
    CHECK(set.starts_with(std::string(session_cookie) + "="));
    for (const char* flag : {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"})
        CHECK(set.find(flag) != std::string::npos);
    const auto csrf = body_of(ok)["csrf_token"].get<std::string>();
    CHECK(csrf.size() >= 32);
    const auto cookie = fixture::cookie_of(ok);

    CHECK(f.call("GET", "/api/v1/domains", "", {{"cookie", cookie}}).status == 200);
    auto who = f.call("GET", "/api/v1/session", "", {{"cookie", cookie}});
    CHECK(body_of(who)["username"] == "admin");
    CHECK(body_of(who)["csrf_token"] == csrf);

    const std::string dom = json{{"name", "example.org"}}.dump();
    auto no_csrf = f.call("POST", "/api/v1/domains", dom, {{"cookie", cookie}});
    CHECK(no_csrf.status == 403);
    CHECK(f.call("POST", "/api/v1/domains", dom, {{"cookie", cookie}, {"x-csrf-token", csrf + "x"}}).status == 403);
    CHECK(f.call("POST", "/api/v1/domains", dom, {{"cookie", cookie}, {"x-csrf-token", ""}}).status == 403);
    CHECK(body_of(f.call("GET", "/api/v1/domains", "", {{"cookie", cookie}}))["items"].empty()); // nothing saved
    auto created = f.call("POST", "/api/v1/domains", dom, {{"cookie", cookie}, {"x-csrf-token", csrf}});
    CHECK(created.status == 201);
    CHECK(body_of(created)["name"] == "example.org");

    // Logout needs the token too, then the cookie is dead.
    CHECK(f.call("DELETE", "/api/v1/session", "", {{"cookie", cookie}}).status == 403);
    auto out = f.call("DELETE", "/api/v1/session", "", {{"cookie", cookie}, {"x-csrf-token", csrf}});
    CHECK(out.status == 204);
    CHECK(fixture::header(out, "Set-Cookie").find("Max-Age=0") != std::string::npos);
    CHECK(f.call("GET", "/api/v1/domains", "", {{"cookie", cookie}}).status == 401);
}

TEST_CASE("sessions end after the idle timeout and at the absolute expiry") {
    fixture f;
    auto ok = f.login("admin", "correct horse battery");
    const auto cookie = fixture::cookie_of(ok);
    *f.now += 90;
    CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", cookie}}).status == 200);
    *f.now += 99; // 99 s after the last request: still alive
    CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", cookie}}).status == 200);
    *f.now += 100; // idle for 100 s
    CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", cookie}}).status == 401);

    auto again = f.login("admin", "correct horse battery");
    const auto c2 = fixture::cookie_of(again);
    for (int i = 0; i < 11; ++i) {
        *f.now += 90; // busy, never idle; 990 s after login still alive
        CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", c2}}).status == 200);
    }
    *f.now += 10; // 1000 s after login
    CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", c2}}).status == 401);
}

TEST_CASE("API tokens authenticate without CSRF; only their hash is stored") {
    fixture f;
    std::string token;
    {
        auto db = config::config_db::open((f.dir / "config.db").string(), false);
        token = admin::create_token(db, "admin", "ci");
        CHECK(token.starts_with("ct_"));
        CHECK(token.size() == 46);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db.handle(), "SELECT token_hash FROM api_tokens", -1, &st, nullptr);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        std::string stored = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        CHECK(stored == admin::sha256_hex(token));
        CHECK(stored.find(token) == std::string::npos);
    }
    auto r = f.call("POST", "/api/v1/domains", json{{"name", "example.net"}}.dump(),
                    {{"authorization", "Bearer " + token}});
    CHECK(r.status == 201);
    CHECK(f.call("GET", "/api/v1/domains", "", {{"authorization", "Bearer " + token + "x"}}).status == 401);
    {
        auto db = config::config_db::open((f.dir / "config.db").string(), false);
        CHECK(admin::revoke_tokens(db, "admin") == 1);
    }
    CHECK(f.call("GET", "/api/v1/domains", "", {{"authorization", "Bearer " + token}}).status == 401);
}

TEST_CASE("repeated failures lock the account (429), also for the right password") {
    fixture f;
    for (int i = 0; i < 3; ++i) CHECK(f.login("admin", "nope", "192.0.2.10").status == 401);
    auto locked = f.login("admin", "correct horse battery", "192.0.2.11");
    CHECK(locked.status == 429);
    CHECK(std::stoi(fixture::header(locked, "Retry-After")) == 600);
    CHECK(f.login("other", "another password", "192.0.2.11").status == 200); // others unaffected
    *f.now += 601;
    CHECK(f.login("admin", "correct horse battery", "192.0.2.11").status == 200);
}

TEST_CASE("repeated failures from one address lock that address for every account") {
    fixture f;
    for (int i = 0; i < 6; ++i)
        CHECK(f.login("user" + std::to_string(i), "nope", "198.51.100.7").status == 401);
    CHECK(f.login("other", "another password", "198.51.100.7").status == 429);
    CHECK(f.login("other", "another password", "198.51.100.8").status == 200);
}

TEST_CASE("TOTP: enrol, confirm, then login needs the code") {
    fixture f;
    auto ok = f.login("admin", "correct horse battery");
    const auto cookie = fixture::cookie_of(ok);
    const auto csrf = body_of(ok)["csrf_token"].get<std::string>();
    std::map<std::string, std::string> h{{"cookie", cookie}, {"x-csrf-token", csrf}};
    auto begin = f.call("POST", "/api/v1/account/totp", "", h);
    REQUIRE(begin.status == 200);
    const auto secret = body_of(begin)["secret"].get<std::string>();
    const auto key = *base32_decode(secret);
    auto wrong = f.call("POST", "/api/v1/account/totp/confirm", json{{"code", "000000"}}.dump(), h);
    if (totp_at(key, *f.now) != "000000") {
        CHECK(wrong.status == 422);
        CHECK(body_of(wrong)["field"] == "code");
    }
    auto conf = f.call("POST", "/api/v1/account/totp/confirm",
                       json{{"code", totp_at(key, *f.now)}}.dump(), h);
    CHECK(conf.status == 200);
    auto no_code = f.login("admin", "correct horse battery");
    CHECK(no_code.status == 401);
    CHECK(body_of(no_code)["field"] == "totp");
    auto with_code = f.call("POST", "/api/v1/session",
                            json{{"username", "admin"}, {"password", "correct horse battery"},
                                 {"totp", totp_at(key, *f.now)}}.dump());
    CHECK(with_code.status == 200);
}

TEST_CASE("bad requests: unknown endpoint, method, field, content type, body") {
    fixture f;
    auto ok = f.login("admin", "correct horse battery");
    std::map<std::string, std::string> h{{"cookie", fixture::cookie_of(ok)},
                                         {"x-csrf-token", body_of(ok)["csrf_token"].get<std::string>()}};
    CHECK(f.call("GET", "/api/v1/nothing", "", h).status == 404);
    CHECK(f.call("PATCH", "/api/v1/domains", "{}", h).status == 405);
    auto unknown = f.call("POST", "/api/v1/domains", json{{"name", "a.example"}, {"nmae", 1}}.dump(), h);
    CHECK(unknown.status == 400);
    CHECK(body_of(unknown)["field"] == "nmae");
    auto h2 = h;
    h2["content-type"] = "application/x-www-form-urlencoded";
    CHECK(f.call("POST", "/api/v1/domains", "name=a.example", h2).status == 415);
    CHECK(f.call("POST", "/api/v1/domains", "{not json", h).status == 400);
    CHECK(f.call("POST", "/api/v1/domains", "[1]", h).status == 400);
    auto bad_name = f.call("POST", "/api/v1/domains", json{{"name", "no spaces.example"}}.dump(), h);
    CHECK(bad_name.status == 422);
    CHECK(body_of(bad_name)["field"] == "name");
    auto wrong_type = f.call("POST", "/api/v1/domains", json{{"name", 5}}.dump(), h);
    CHECK(wrong_type.status == 400);
    CHECK(body_of(wrong_type)["field"] == "name");
    CHECK(f.call("POST", "/api/v1/domains", std::string(70 * 1024, ' '), h).status == 413);
}

TEST_CASE("static files: index, no traversal, no API fallthrough") {
    fixture f;
    auto idx = f.call("GET", "/");
    CHECK(idx.status == 200);
    CHECK(idx.content_type.starts_with("text/html"));
    CHECK(f.call("GET", "/../secret.txt").status == 404);
    CHECK(f.call("GET", "/%2e%2e/secret.txt").status == 404);
    CHECK(f.call("GET", "/.hidden").status == 404);
    CHECK(f.call("POST", "/index.html", "{}").status == 405);
}

TEST_CASE("every response head carries the security headers") {
    http_response r;
    r.status = 404;
    r.body = "{}";
    const auto head = response_head(r);
    for (const char* h : {"Content-Security-Policy: default-src 'self'", "frame-ancestors 'none'",
                          "Strict-Transport-Security: max-age=", "X-Content-Type-Options: nosniff",
                          "Referrer-Policy: no-referrer", "Content-Length: 2\r\n"})
        CHECK(head.find(h) != std::string::npos);
    CHECK(head.find("unsafe-inline") == std::string::npos);
    r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: x=y");
    CHECK(response_head(r).find("X-Evil") == std::string::npos);
}

TEST_CASE("admin store: names, duplicates, last admin, password change ends sessions") {
    fixture f;
    auto db = config::config_db::open((f.dir / "config.db").string(), false);
    CHECK_FALSE(admin::check_username(""));
    CHECK_FALSE(admin::check_username("has space"));
    CHECK_FALSE(admin::check_username(std::string(255, 'a')));
    CHECK(admin::check_username("ops+1@example.org"));
    CHECK_THROWS_AS(admin::add_admin(db, "admin", "x-password"), config::config_error);
    CHECK_THROWS_AS(admin::add_admin(db, "new", ""), config::config_error);
    admin::remove_admin(db, "other");
    try {
        admin::remove_admin(db, "admin");
        FAIL("removed the last admin");
    } catch (const config::config_error& e) {
        CHECK(e.which() == config::config_error::kind::conflict);
    }
    auto s = f.login("admin", "correct horse battery");
    const auto cookie = fixture::cookie_of(s);
    CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", cookie}}).status == 200);
    admin::set_admin_password(db, "admin", "a new password");
    CHECK(f.call("GET", "/api/v1/session", "", {{"cookie", cookie}}).status == 401);
    CHECK_FALSE(admin::verify_login(db, "admin", "correct horse battery"));
    CHECK(admin::verify_login(db, "admin", "a new password"));
    const auto pw = admin::random_password();
    CHECK(pw.size() == 20);
    CHECK(pw != admin::random_password());
}
