// tests/unit/smtp/client_driver.hpp — drives a client_fsm with scripted server bytes, records actions.
#pragma once

#include "daemon/smtp/client_fsm.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::smtp::test {

// Runs the fsm until it wants input, is idle, or closes. `wire` holds every byte the client
// wrote; `writes` each send action separately (a pipelined group is one write).
struct client_driver {
    client_fsm fsm;
    std::string wire;
    std::vector<std::string> writes;
    std::vector<transaction_result> results;
    std::vector<client_action_kind> stops; // the action that ended each run()
    int tls_requests = 0;
    bool closed = false;

    explicit client_driver(client_settings s = {}) : fsm(std::move(s)) {}

    client_action_kind run() {
        while (true) {
            client_action a = fsm.next();
            switch (a.kind) {
            case client_action_kind::send: {
                // As the transport: pending output, then a borrowed body, then what follows.
                std::string w = a.out;
                w += a.borrowed;
                w += a.after;
                wire += w;
                writes.push_back(std::move(w));
                continue;
            }
            case client_action_kind::transaction_done:
                results.push_back(std::move(*a.result));
                continue;
            case client_action_kind::start_tls:
                ++tls_requests;
                stops.push_back(a.kind);
                return a.kind;
            case client_action_kind::close:
                closed = true;
                [[fallthrough]];
            case client_action_kind::need_input:
            case client_action_kind::idle:
                stops.push_back(a.kind);
                return a.kind;
            }
        }
    }
    // Server bytes in, then run. Returns only what the client wrote during this step.
    std::string server(std::string_view bytes) {
        std::size_t before = wire.size();
        fsm.feed(bytes);
        run();
        return wire.substr(before);
    }
    std::string eof() {
        std::size_t before = wire.size();
        fsm.eof();
        run();
        return wire.substr(before);
    }
};

inline transaction make_tx(std::uint64_t id, std::vector<std::string> rcpts,
                           std::string body = "Subject: t\r\n\r\nhello\r\n",
                           std::string from = "sender@example.org") {
    transaction t;
    t.id = id;
    t.mail_from = std::move(from);
    for (auto& r : rcpts) t.rcpts.push_back({std::move(r), "", ""});
    t.body = std::make_shared<const std::string>(std::move(body));
    return t;
}

inline client_settings plain_settings(tls_policy p = tls_policy::opportunistic) {
    client_settings s;
    s.helo_name = "out1.example.org";
    s.tls = p;
    return s;
}

constexpr const char* ehlo_basic = "250-mx.example.net Hello\r\n250-SIZE 10000\r\n"
                                   "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
constexpr const char* ehlo_pipelining = "250-mx.example.net\r\n250-PIPELINING\r\n"
                                        "250-SIZE 0\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                                        "250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n";

} // namespace cartero::smtp::test
