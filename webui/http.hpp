// webui/http.hpp — the panel's HTTP request and response, independent of CivetWeb (so routing,
// auth and the API handlers are unit-testable without sockets), and the header helpers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartero::webui {

struct http_request {
    std::string method;      // "GET", "POST", ...
    std::string path;        // percent-decoded path without the query ("/api/v1/domains")
    std::string query;       // raw query string (not decoded)
    std::map<std::string, std::string> headers; // names lower-cased
    std::string body;
    std::string remote_addr;
    bool tls = false;

    // The header's value, or "" when absent.
    std::string header(std::string_view name) const;
    // The named cookie from the Cookie header, or nullopt.
    std::optional<std::string> cookie(std::string_view name) const;
    // Query parameters, percent-decoded ('+' is a space); a repeated name keeps the first.
    std::map<std::string, std::string> query_params() const;
};

struct http_response {
    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // besides the security headers
};

// "%40" → "@"; invalid escapes are kept as they are. plus_is_space for query strings.
std::string percent_decode(std::string_view s, bool plus_is_space);
std::string_view status_text(int status);

// The security headers every response carries (CSP without inline script, HSTS,
// frame-ancestors 'none', nosniff, Referrer-Policy no-referrer, X-Frame-Options).
const std::vector<std::pair<std::string, std::string>>& security_headers();

// The complete response head ("HTTP/1.1 200 OK\r\n...\r\n\r\n") with the security headers,
// Content-Type, Content-Length and `extra`; header values with CR or LF are dropped.
std::string response_head(const http_response& r);

} // namespace cartero::webui
