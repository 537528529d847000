// tests/unit/smtp/session_driver.hpp — drives a server_fsm with bytes and records what it does.
#pragma once

#include "daemon/smtp/server_fsm.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cartero::smtp::test {

// A scripted session: answers every check with the configured reply, records replies, deliveries
// and actions. Assertions look at the reply lines (last line of each reply).
struct session_driver {
    server_fsm fsm;
    std::string wire;                      // everything sent, in order
    std::vector<std::string> replies;      // final line of every reply, without CRLF
    std::vector<action_kind> kinds;        // every action seen
    std::vector<std::string> messages;     // delivered messages
    std::vector<std::size_t> prefixes;     // their action::message_prefix
    std::vector<envelope> envelopes;       // their envelopes
    std::vector<action> auths;             // authenticate actions
    std::vector<std::string> helos;        // check_helo names
    std::vector<path> senders, recipients; // check_sender / check_recipient paths
    std::vector<action> rcpt_actions;      // check_recipient actions (NOTIFY/ORCPT)
    bool closed = false;
    bool auto_tls = true;                  // answer start_tls with tls_started()

    reply helo_reply{250, "", "ok"};
    reply sender_reply{250, "2.1.0", "Sender ok"};
    reply rcpt_reply{250, "2.1.5", "Recipient ok"};
    reply deliver_reply{250, "2.0.0", "Queued"};
    bool auth_ok = true;

    explicit session_driver(server_settings s = {}) : fsm(std::move(s)) { run(); }

    // Feeds bytes and runs the fsm until it wants input or closes. Returns the replies produced.
    std::vector<std::string> send(std::string_view bytes) {
        fsm.feed(bytes);
        return run();
    }

    std::vector<std::string> run() {
        std::vector<std::string> got;
        while (true) {
            action a = fsm.next();
            kinds.push_back(a.kind);
            switch (a.kind) {
            case action_kind::send: {
                wire += a.out;
                // split into lines; keep the final line of each reply
                std::size_t start = 0;
                while (start < a.out.size()) {
                    std::size_t e = a.out.find("\r\n", start);
                    std::string line = a.out.substr(start, e - start);
                    if (line.size() < 4 || line[3] != '-') {
                        replies.push_back(line);
                        got.push_back(line);
                    }
                    start = e + 2;
                }
                break;
            }
            case action_kind::need_input:
                return got;
            case action_kind::check_helo:
                helos.push_back(a.helo);
                fsm.helo_result(helo_reply);
                break;
            case action_kind::check_sender:
                senders.push_back(a.addr);
                fsm.sender_result(sender_reply);
                break;
            case action_kind::check_recipient:
                recipients.push_back(a.addr);
                rcpt_actions.push_back(a);
                fsm.recipient_result(rcpt_reply);
                break;
            case action_kind::authenticate:
                auths.push_back(a);
                fsm.auth_result(auth_ok, a.username);
                break;
            case action_kind::start_tls:
                if (!auto_tls) return got;
                fsm.tls_started();
                break;
            case action_kind::deliver:
                messages.push_back(*a.message);
                envelopes.push_back(*a.env);
                prefixes.push_back(a.message_prefix);
                fsm.deliver_result(deliver_reply);
                break;
            case action_kind::close:
                closed = true;
                return got;
            }
        }
    }

    std::string last() const { return replies.empty() ? std::string() : replies.back(); }
    int count(action_kind k) const {
        int n = 0;
        for (auto x : kinds) n += x == k;
        return n;
    }
};

// A session that has said EHLO and, when `tls`, is inside TLS (AUTH allowed).
inline server_settings tls_settings() {
    server_settings s;
    s.hostname = "mx.example.test";
    s.tls_active = true;
    return s;
}

inline bool starts_with(const std::string& s, std::string_view p) {
    return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

} // namespace cartero::smtp::test
