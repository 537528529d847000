// webui/panel_app.cpp — routing, authentication, CSRF and static files.
#include "webui/panel_app.hpp"

#include "core/log.hpp"

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>

namespace cartero::webui {

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        auto slash = path.find('/');
        out.emplace_back(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    }
    return out;
}

// Matches `path` against `pattern`; fills the {} parameters.
bool match(std::string_view pattern, const std::vector<std::string>& segs,
           std::vector<std::string>& params) {
    auto pat = split_path(pattern);
    if (pat.size() != segs.size()) return false;
    std::vector<std::string> got;
    for (std::size_t i = 0; i < pat.size(); ++i) {
        if (pat[i] == "{}") {
            if (segs[i].empty()) return false;
            got.push_back(segs[i]);
        } else if (pat[i] != segs[i]) {
            return false;
        }
    }
    params = std::move(got);
    return true;
}

bool state_changing(std::string_view method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::string content_type_for(std::string_view path) {
    auto dot = path.rfind('.');
    auto ext = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "ico") return "image/x-icon";
    if (ext == "json") return "application/json";
    if (ext == "woff2") return "font/woff2";
    if (ext == "txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

} // namespace

panel_app::panel_app(panel_config cfg) : cfg_(std::move(cfg)) {
    add_session_routes(routes_);
    add_domain_routes(routes_);
    add_sending_routes(routes_);
    add_dkim_dns_routes(routes_);
    add_queue_routes(routes_);
    add_filter_routes(routes_);
}

std::optional<principal> authenticate(const http_request& req, config::config_db& db,
                                      const panel_config& cfg) {
    const auto auth = req.header("authorization");
    if (!auth.empty()) {
        // A malformed or wrong Authorization header is a failure, never a fallback to cookies.
        if (auth.size() < 8 || (auth.compare(0, 7, "Bearer ") != 0 && auth.compare(0, 7, "bearer ") != 0))
            return std::nullopt;
        auto a = admin::admin_for_token(db, auth.substr(7));
        if (!a) return std::nullopt;
        return principal{*a, "", "", 0};
    }
    auto id = req.cookie(session_cookie);
    if (!id) return std::nullopt;
    auto s = admin::find_session(db, *id, cfg.now(), cfg.session_idle_seconds);
    if (!s) return std::nullopt;
    admin::admin_row a;
    a.id = s->admin_id;
    a.username = s->username;
    a.totp_enabled = s->totp_enabled;
    return principal{a, *id, s->csrf_token, s->expires_at};
}

bool csrf_ok(const http_request& req, const principal& who) {
    if (who.session_id.empty()) return true; // a Bearer token is not sent by browsers by itself
    const auto got = req.header("x-csrf-token");
    return !who.csrf_token.empty() && got.size() == who.csrf_token.size() &&
           CRYPTO_memcmp(got.data(), who.csrf_token.data(), got.size()) == 0;
}

http_response panel_app::handle(const http_request& req) const {
    try {
        if (req.path == "/api" || req.path.starts_with("/api/")) return api(req);
        return static_file(req);
    } catch (const std::exception& e) {
        log::error("panel_request_failed", {{"path", req.path}, {"error", e.what()}});
        return error_response(500, "internal error; see the panel's log", "");
    }
}

http_response panel_app::api(const http_request& req) const {
    const auto segs = split_path(req.path);
    const route* found = nullptr;
    bool path_known = false;
    std::vector<std::string> params;
    for (const auto& r : routes_) {
        std::vector<std::string> p;
        if (!match(r.pattern, segs, p)) continue;
        path_known = true;
        if (req.method == r.method) {
            found = &r;
            params = std::move(p);
            break;
        }
    }
    if (!found)
        return path_known ? error_response(405, "method " + req.method.substr(0, 16) +
                                                     " is not allowed here", "")
                          : error_response(404, "no such endpoint: " + req.path.substr(0, 200), "");
    if (req.body.size() > cfg_.max_body_bytes)
        return error_response(413, "the request body is larger than " +
                                       std::to_string(cfg_.max_body_bytes) + " bytes", "");
    try {
        auto db = config::config_db::open(cfg_.config_db_path(), false);
        api_call call{req, db, cfg_, {}, std::move(params), std::nullopt};
        if (!found->public_route) {
            auto who = authenticate(req, db, cfg_);
            if (!who)
                return error_response(401, "log in first (POST /api/v1/session) or send an API "
                                           "token (Authorization: Bearer ...)", "");
            if (state_changing(req.method) && !csrf_ok(req, *who))
                return error_response(403, "missing or wrong CSRF token (X-CSRF-Token header)", "");
            call.who = std::move(*who);
        }
        return found->fn(call);
    } catch (const api_error& e) {
        auto r = error_response(e.status, e.what(), e.field);
        return r;
    } catch (const config::config_error& e) {
        try {
            rethrow_config_error(e, "", 404);
        } catch (const api_error& a) {
            return error_response(a.status, a.what(), a.field);
        }
    }
}

http_response panel_app::static_file(const http_request& req) const {
    if (req.method != "GET" && req.method != "HEAD")
        return error_response(405, "method " + req.method.substr(0, 16) + " is not allowed here", "");
    std::string rel = req.path;
    if (rel.empty() || rel.back() == '/') rel += "index.html";
    // Only plain names: no "..", no hidden files, no odd bytes (CivetWeb has already cleaned the
    // path; this is the second lock).
    for (char c : rel) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '.' || c == '-' || c == '_';
        if (!ok) return error_response(404, "not found", "");
    }
    if (rel.find("/.") != std::string::npos) return error_response(404, "not found", "");
    std::ifstream f(cfg_.static_dir + rel, std::ios::binary);
    if (!f) return error_response(404, "not found", "");
    std::ostringstream ss;
    ss << f.rdbuf();
    if (!f && !f.eof()) return error_response(404, "not found", "");
    http_response r;
    r.content_type = content_type_for(rel);
    r.body = ss.str();
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
}

} // namespace cartero::webui
