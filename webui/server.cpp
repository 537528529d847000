// webui/server.cpp — CivetWeb server: TLS set-up, the request handler, the redirect listener.
#include "webui/server.hpp"

#include "core/log.hpp"

#include <civetweb.h>
#include <openssl/ssl.h>

#include <cctype>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace cartero::webui {

namespace {

struct context {
    const panel_app* app;
    const server_settings* s;
    int https_port = 0;
    std::string https_host;
    std::string tls_error;
};

void write_response(mg_connection* conn, const http_response& r, bool head_only) {
    const auto head = response_head(r);
    mg_write(conn, head.data(), head.size());
    if (!head_only && !r.body.empty()) mg_write(conn, r.body.data(), r.body.size());
}

bool host_ok(std::string_view h) {
    if (h.empty() || h.size() > 255) return false;
    for (char c : h) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        if (!ok) return false;
    }
    return true;
}

int handle_request(mg_connection* conn, void* cbdata) {
    auto* ctx = static_cast<context*>(cbdata);
    const mg_request_info* ri = mg_get_request_info(conn);
    const std::string method = ri->request_method ? ri->request_method : "";
    const std::string path = ri->local_uri ? ri->local_uri : "/";
    const std::string query = ri->query_string ? ri->query_string : "";
    if (!ri->is_ssl) {
        // The plain-HTTP listener only redirects, whatever was asked.
        const char* host = mg_get_header(conn, "Host");
        http_response r;
        r.status = 301;
        r.content_type = "text/plain; charset=utf-8";
        r.body = "This panel is served over HTTPS only.\n";
        r.headers.emplace_back("Location", redirect_target(host ? host : "", ctx->https_host,
                                                           ctx->https_port, path, query));
        write_response(conn, r, method == "HEAD");
        return 301;
    }
    http_request req;
    req.method = method;
    req.path = path;
    req.query = query;
    req.remote_addr = ri->remote_addr;
    req.tls = true;
    for (int i = 0; i < ri->num_headers; ++i) {
        std::string name = ri->http_headers[i].name ? ri->http_headers[i].name : "";
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        // A repeated header keeps its first value (no merging of Authorization or Cookie).
        req.headers.emplace(std::move(name), ri->http_headers[i].value ? ri->http_headers[i].value : "");
    }
    const auto limit = ctx->app->config().max_body_bytes;
    if (ri->content_length > static_cast<long long>(limit)) {
        write_response(conn, error_response(413, "the request body is larger than " +
                                                     std::to_string(limit) + " bytes", ""), false);
        return 413;
    }
    char buf[8192];
    for (;;) {
        int n = mg_read(conn, buf, sizeof buf);
        if (n <= 0) break;
        req.body.append(buf, static_cast<std::size_t>(n));
        if (req.body.size() > limit) {
            write_response(conn, error_response(413, "the request body is larger than " +
                                                         std::to_string(limit) + " bytes", ""), false);
            return 413;
        }
    }
    // CivetWeb's worker threads have small stacks (Debian's build: about 100 KiB); the handlers
    // (SQLite, yescrypt, the control client's 64 KiB read buffer) run on a thread with the
    // default 8 MiB stack instead. One short-lived thread per request is cheap for an admin panel.
    http_response r;
    std::thread worker([&] { r = ctx->app->handle(req); });
    worker.join();
    write_response(conn, r, method == "HEAD");
    return r.status;
}

// CivetWeb's own errors (malformed request, headers too large): JSON with the security headers.
int http_error(mg_connection* conn, int status, const char* msg) {
    write_response(conn, error_response(status, msg ? msg : "bad request", ""), false);
    return 0;
}

int log_message(const mg_connection*, const char* message) {
    log::warn("panel_http", {{"message", message ? message : ""}});
    return 1;
}

// Our own TLS set-up: the certificate chain and key of the state dir, TLS 1.2 minimum.
int init_ssl(void* ssl_ctx, void* user_data) {
    auto* ctx = static_cast<context*>(user_data);
    auto* sc = static_cast<SSL_CTX*>(ssl_ctx);
    SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
    SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(sc, ctx->s->tls_certificate.c_str()) != 1) {
        ctx->tls_error = "cannot load the TLS certificate " + ctx->s->tls_certificate;
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(sc, ctx->s->tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(sc) != 1) {
        ctx->tls_error = "cannot load the TLS key " + ctx->s->tls_key + " (or it does not match the certificate)";
        return -1;
    }
    return 1; // done: CivetWeb loads no certificate itself
}

struct host_port {
    std::string host; // without brackets
    int port = 0;
    std::string civetweb() const {
        return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
               std::to_string(port);
    }
};

// "ADDR:PORT" or "[ADDR]:PORT"; a bare IPv6 address ("::1:443") is split at its last colon.
host_port split_host_port(const std::string& s, const char* what) {
    auto bad = [&](const char* why) {
        return std::runtime_error(std::string(what) + ": \"" + s + "\" " + why);
    };
    auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        throw bad("is not ADDR:PORT");
    std::string host = s.substr(0, colon);
    if (host.front() == '[' || host.back() == ']') {
        if (host.size() < 3 || host.front() != '[' || host.back() != ']' ||
            host.find_first_of("[]", 1) != host.size() - 1)
            throw bad("is not [ADDR]:PORT");
        host = host.substr(1, host.size() - 2);
    }
    // Only name/address bytes: a ',' would smuggle another listener into CivetWeb's list.
    for (char c : host)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != ':' && c != '-')
            throw bad("has a bad address");
    int port = 0;
    const std::string digits = s.substr(colon + 1);
    if (digits.size() <= 5 && digits.find_first_not_of("0123456789") == std::string::npos)
        port = std::stoi(digits);
    if (port <= 0 || port > 65535) throw bad("has a bad port");
    return {host, port};
}

} // namespace

std::string redirect_target(std::string_view host_header, std::string_view fallback_host,
                            int https_port, std::string_view path, std::string_view query) {
    std::string host(fallback_host);
    if (host_ok(host_header)) {
        std::string h(host_header);
        // Drop the port of the Host header: the redirect names the HTTPS port.
        if (!h.empty() && h.front() == '[') {
            auto close = h.find(']');
            if (close != std::string::npos) host = h.substr(0, close + 1);
        } else {
            auto colon = h.find(':');
            host = colon == std::string::npos ? h : h.substr(0, colon);
        }
    }
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    std::string p(path.empty() || path.front() != '/' ? "/" : path);
    // Only safe path bytes travel into the Location header.
    for (char& c : p)
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) c = '_';
    std::string out = "https://" + host + (https_port == 443 ? "" : ":" + std::to_string(https_port)) + p;
    if (!query.empty() && query.find_first_of("\r\n") == std::string_view::npos) out += "?" + std::string(query);
    return out;
}

std::string listening_ports(const server_settings& s) {
    if (s.listen.empty()) throw std::runtime_error("--listen: no HTTPS address given");
    std::string ports;
    for (const auto& a : s.listen)
        ports += (ports.empty() ? "" : ",") + split_host_port(a, "--listen").civetweb() + "s";
    for (const auto& a : s.redirect_listen)
        ports += "," + split_host_port(a, "--redirect-listen").civetweb();
    return ports;
}

void run_server(const panel_app& app, const server_settings& s, const volatile bool& stop) {
    if (!mg_check_feature(MG_FEATURES_TLS))
        throw std::runtime_error("this CivetWeb was built without TLS support");
    const std::string ports = listening_ports(s);
    // Debian's libcivetweb1 (1.15) is built without USE_IPV6: it would refuse "[::]:443" only
    // as an "invalid port spec" in the log, so say what is actually missing.
    if (ports.find('[') != std::string::npos && !mg_check_feature(MG_FEATURES_IPV6))
        throw std::runtime_error("cannot listen on an IPv6 address (" + ports +
                                 "): this CivetWeb was built without IPv6 support (USE_IPV6)");
    mg_init_library(MG_FEATURES_TLS);

    context ctx{&app, &s, 0, "", ""};
    const auto first = split_host_port(s.listen.front(), "--listen");
    ctx.https_port = first.port;
    ctx.https_host = first.host.find(':') != std::string::npos ? "[" + first.host + "]" : first.host;
    const std::string threads = std::to_string(s.threads);
    const char* options[] = {"listening_ports", ports.c_str(),
                             "num_threads", threads.c_str(),
                             "ssl_protocol_version", "4", // TLS 1.2 and newer
                             "ssl_cipher_list", "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM",
                             "request_timeout_ms", "30000",
                             "enable_keep_alive", "yes",
                             "keep_alive_timeout_ms", "5000",
                             "enable_directory_listing", "no",
                             nullptr};
    mg_callbacks cb{};
    cb.init_ssl = &init_ssl;
    cb.http_error = &http_error;
    cb.log_message = &log_message;
    mg_context* mg = mg_start(&cb, &ctx, options);
    if (!mg) {
        mg_exit_library();
        throw std::runtime_error("cannot start the HTTPS server on " + ports +
                                 (ctx.tls_error.empty() ? " (port in use, or a bad address?)"
                                                        : ": " + ctx.tls_error));
    }
    mg_set_request_handler(mg, "/", &handle_request, &ctx);
    auto joined = [](const std::vector<std::string>& v) {
        std::string out;
        for (const auto& a : v) out += (out.empty() ? "" : ",") + a;
        return out;
    };
    log::info("panel_listening", {{"listen", joined(s.listen)}, {"redirect", joined(s.redirect_listen)}});
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    mg_stop(mg);
    mg_exit_library();
}

} // namespace cartero::webui
