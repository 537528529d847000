// webui/api/api_session.cpp — login (POST /session) with throttling and optional TOTP, who am I,
// logout, the admin's password and TOTP enrolment.
#include "core/log.hpp"
#include "webui/api/api.hpp"
#include "webui/login_throttle.hpp"
#include "webui/panel_app.hpp"
#include "webui/totp.hpp"

namespace cartero::webui {

namespace {

std::string cookie_value(const std::string& id, std::int64_t max_age) {
    // __Host- prefix: the browser accepts it only with Secure, Path=/ and no Domain.
    return std::string(session_cookie) + "=" + id + "; Path=/; Secure; HttpOnly; SameSite=Strict" +
           "; Max-Age=" + std::to_string(max_age);
}

json session_json(const principal& who, const panel_config& cfg) {
    json j{{"username", who.admin.username},
           {"totp_enabled", who.admin.totp_enabled},
           {"idle_timeout", cfg.session_idle_seconds}};
    if (!who.session_id.empty()) {
        j["csrf_token"] = who.csrf_token;
        j["expires_at"] = who.expires_at;
    }
    return j;
}

http_response too_many(std::int64_t seconds) {
    auto r = error_response(429, "too many failed logins; try again in " +
                                     std::to_string((seconds + 59) / 60) + " minute(s)", "");
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
}

http_response login(api_call& c) {
    body_reader b(c.body());
    auto username = b.required_string("username", 254);
    auto password = b.string("password", 1024);
    auto code = b.string("totp", 16);
    b.finish();
    if (!password || password->empty()) throw api_error(400, "password is required", "password");

    const auto now = c.cfg.now();
    const std::string ip_key = "ip:" + c.req.remote_addr;
    const std::string user_key = "user:" + username.substr(0, 254);
    const auto locked = std::max(locked_for(admin::get_throttle(c.db, ip_key), now),
                                 locked_for(admin::get_throttle(c.db, user_key), now));
    if (locked > 0) {
        log::warn("panel_login_locked", {{"ip", c.req.remote_addr}, {"user", username}});
        return too_many(locked);
    }
    auto fail = [&](const char* field, const char* message) {
        admin::update_throttle(c.db, ip_key, [&](admin::throttle_row r) {
            return after_failure(r, now, c.cfg.ip_throttle);
        });
        admin::update_throttle(c.db, user_key, [&](admin::throttle_row r) {
            return after_failure(r, now, c.cfg.account_throttle);
        });
        // Never the password; the name helps an admin spot a guessing run.
        log::warn("panel_login_failed", {{"ip", c.req.remote_addr}, {"user", username}, {"why", field}});
        return error_response(401, message, field);
    };

    auto a = admin::verify_login(c.db, username, *password);
    if (!a) return fail("password", "wrong username or password");
    if (a->totp_enabled) {
        auto secret = admin::totp_secret(c.db, a->id);
        if (!code || code->empty()) return fail("totp", "enter the code from your authenticator app");
        if (!secret || !totp_verify(*secret, *code, now)) return fail("totp", "wrong authenticator code");
    }
    admin::update_throttle(c.db, user_key, [](admin::throttle_row) { return admin::throttle_row{}; });
    auto s = admin::create_session(c.db, a->id, now, c.cfg.session_max_seconds, c.req.remote_addr);
    log::info("panel_login", {{"ip", c.req.remote_addr}, {"user", a->username}});
    principal who{*a, s.id, s.row.csrf_token, s.row.expires_at};
    auto r = json_response(200, session_json(who, c.cfg));
    r.headers.emplace_back("Set-Cookie", cookie_value(s.id, c.cfg.session_max_seconds));
    return r;
}

http_response whoami(api_call& c) { return json_response(200, session_json(c.who, c.cfg)); }

http_response logout(api_call& c) {
    if (!c.who.session_id.empty()) admin::delete_session(c.db, c.who.session_id);
    auto r = no_content();
    r.headers.emplace_back("Set-Cookie", cookie_value("", 0));
    return r;
}

http_response change_password(api_call& c) {
    body_reader b(c.body());
    auto current = b.required_string("current_password", 1024);
    auto next = b.required_string("new_password", 1024);
    b.finish();
    if (next.size() < 8) throw api_error(422, "the new password needs at least 8 characters", "new_password");
    if (!admin::verify_login(c.db, c.who.admin.username, current))
        throw api_error(422, "the current password is wrong", "current_password");
    with_field("new_password", [&] {
        admin::set_admin_password(c.db, c.who.admin.username, next, c.who.session_id);
    });
    return no_content();
}

http_response totp_begin(api_call& c) {
    if (c.req.body.size() > 0) body_reader(c.body()).finish();
    if (c.who.admin.totp_enabled) throw api_error(409, "TOTP is already on; turn it off first", "");
    auto secret = new_totp_secret();
    admin::set_totp(c.db, c.who.admin.id, secret, false);
    std::string uri = "otpauth://totp/Cartero:" + c.who.admin.username + "?secret=" + secret +
                      "&issuer=Cartero&algorithm=SHA1&digits=6&period=30";
    return json_response(200, json{{"secret", secret}, {"uri", uri}});
}

std::string code_arg(api_call& c) {
    body_reader b(c.body());
    auto code = b.required_string("code", 16);
    b.finish();
    return code;
}

http_response totp_confirm(api_call& c) {
    auto code = code_arg(c);
    if (c.who.admin.totp_enabled) throw api_error(409, "TOTP is already on", "");
    auto secret = admin::totp_secret(c.db, c.who.admin.id);
    if (!secret) throw api_error(409, "start with POST /api/v1/account/totp", "");
    if (!totp_verify(*secret, code, c.cfg.now()))
        throw api_error(422, "wrong code; check the time on your phone and try again", "code");
    admin::set_totp(c.db, c.who.admin.id, *secret, true);
    return json_response(200, json{{"totp_enabled", true}});
}

http_response totp_disable(api_call& c) {
    auto code = code_arg(c);
    auto secret = admin::totp_secret(c.db, c.who.admin.id);
    if (!c.who.admin.totp_enabled || !secret) throw api_error(409, "TOTP is not on", "");
    if (!totp_verify(*secret, code, c.cfg.now())) throw api_error(422, "wrong code", "code");
    admin::set_totp(c.db, c.who.admin.id, std::nullopt, false);
    return json_response(200, json{{"totp_enabled", false}});
}

} // namespace

void add_session_routes(std::vector<route>& r) {
    r.push_back({"POST", "/api/v1/session", &login, true});
    r.push_back({"GET", "/api/v1/session", &whoami});
    r.push_back({"DELETE", "/api/v1/session", &logout});
    r.push_back({"POST", "/api/v1/account/password", &change_password});
    r.push_back({"POST", "/api/v1/account/totp", &totp_begin});
    r.push_back({"POST", "/api/v1/account/totp/confirm", &totp_confirm});
    r.push_back({"DELETE", "/api/v1/account/totp", &totp_disable});
}

} // namespace cartero::webui
