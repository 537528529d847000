// webui/panel_app.hpp — the panel as a function from request to response: /api/v1 routing,
// authentication (API token or session cookie), the CSRF check on state changes, error
// mapping, and the static front end. No sockets (webui/server.cpp feeds it from CivetWeb).
#pragma once

#include "webui/api/api.hpp"
#include "webui/http.hpp"
#include "webui/panel_config.hpp"

#include <vector>

namespace cartero::webui {

inline constexpr const char* session_cookie = "__Host-cartero_session";

class panel_app {
public:
    explicit panel_app(panel_config cfg);
    // Thread-safe: each call opens its own config.db connection.
    http_response handle(const http_request& req) const;
    const panel_config& config() const { return cfg_; }

private:
    http_response api(const http_request& req) const;
    http_response static_file(const http_request& req) const;

    panel_config cfg_;
    std::vector<route> routes_;
};

// The caller of `req`: a valid Bearer token or live session cookie; nullopt otherwise.
std::optional<principal> authenticate(const http_request& req, config::config_db& db,
                                      const panel_config& cfg);
// True when `req` (a state change made with a session) carries the session's CSRF token.
bool csrf_ok(const http_request& req, const principal& who);

} // namespace cartero::webui
