// webui/http.cpp — header helpers, percent-decoding and the response head with security headers.
#include "webui/http.hpp"

#include <cctype>

namespace cartero::webui {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool has_line_break(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

} // namespace

std::string http_request::header(std::string_view name) const {
    std::string key(name);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = headers.find(key);
    return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> http_request::cookie(std::string_view name) const {
    std::string_view all = headers.count("cookie") ? std::string_view(headers.at("cookie")) : "";
    while (!all.empty()) {
        auto semi = all.find(';');
        auto part = trim(all.substr(0, semi));
        all = semi == std::string_view::npos ? std::string_view() : all.substr(semi + 1);
        auto eq = part.find('=');
        if (eq == std::string_view::npos) continue;
        if (trim(part.substr(0, eq)) == name) return std::string(trim(part.substr(eq + 1)));
    }
    return std::nullopt;
}

std::map<std::string, std::string> http_request::query_params() const {
    std::map<std::string, std::string> out;
    std::string_view q = query;
    while (!q.empty()) {
        auto amp = q.find('&');
        auto part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        auto key = percent_decode(part.substr(0, eq), true);
        auto value = eq == std::string_view::npos ? std::string()
                                                  : percent_decode(part.substr(eq + 1), true);
        out.emplace(std::move(key), std::move(value));
    }
    return out;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
    }
    return out;
}

std::string_view status_text(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

const std::vector<std::pair<std::string, std::string>>& security_headers() {
    static const std::vector<std::pair<std::string, std::string>> h = {
        // No inline script or style, nothing from elsewhere (no CDN), never framed.
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
         "object-src 'none'"},
        {"Strict-Transport-Security", "max-age=31536000"},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
    };
    return h;
}

std::string response_head(const http_response& r) {
    std::string h = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(status_text(r.status)) +
                    "\r\n";
    for (const auto& [k, v] : security_headers()) h += k + ": " + v + "\r\n";
    bool has_cache_control = false;
    for (const auto& [k, v] : r.headers) {
        if (has_line_break(k) || has_line_break(v)) continue;
        if (k == "Cache-Control") has_cache_control = true;
        h += k + ": " + v + "\r\n";
    }
    if (!has_cache_control) h += "Cache-Control: no-store\r\n";
    if (r.status != 204 && r.status != 304) {
        if (!r.content_type.empty()) h += "Content-Type: " + r.content_type + "\r\n";
        h += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    h += "\r\n";
    return h;
}

} // namespace cartero::webui
