// daemon/smtp/server_fsm.hpp — sans-I/O ESMTP server state machine: bytes in, actions out.
#pragma once

#include "core/reply.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::smtp {

// Static per-listener settings. Limits per ../shared/DESIGN.md "Limits that RFCs widen".
struct envelope;

struct server_settings {
    std::string hostname = "localhost";   // greeting, EHLO reply, Received header
    std::size_t max_command_line = 512;   // RFC 5321 §4.5.3.1.4 (incl. CRLF)
    std::size_t max_auth_line = 12288;    // RFC 4954 §4
    std::size_t max_mail_rcpt_line = 2048; // room for MAIL/RCPT parameters (RFC 1870/3461/6531)
    std::size_t max_text_line = 1000;     // 998 octets + CRLF (RFC 5322 §2.1.1)
    std::size_t max_recipients = 100;     // beyond: 452 4.5.3
    std::size_t max_message_size = 50u << 20; // advertised in SIZE; beyond: 552 5.3.4
    std::size_t max_bad_commands = 20;    // then 421 4.7.0 and close
    bool tls_available = false;           // advertise STARTTLS (when not already in TLS)
    bool tls_active = false;              // implicit TLS (smtps) — session starts inside TLS
    bool auth_available = true;           // advertise/accept AUTH (only once TLS is active)
    bool auth_required = false;           // submission/smtps: MAIL needs AUTH first (530 5.7.0)
    // Called as a message starts (DATA, first BDAT): octets the message is stored behind, in
    // the same buffer (the receiver's trace fields) — the session then needs no copy of the
    // body to put them in front. Empty or unset: none.
    std::function<std::string(const envelope&)> message_prefix;
};

enum class action_kind {
    send,            // write `out` (already CRLF-terminated); more actions may follow
    need_input,      // flush pending output, then read more bytes and feed()
    check_helo,      // optional policy hook on EHLO/HELO name — answer with helo_result()
    check_sender,    // MAIL FROM parsed: answer with sender_result()
    check_recipient, // RCPT TO parsed: answer with recipient_result()
    authenticate,    // AUTH credentials decoded: answer with auth_result()
    start_tls,       // "220 2.0.0 Ready to start TLS" was already emitted as a send action;
                     // flush, drop nothing else (the fsm already discarded pipelined input),
                     // handshake, then call tls_started() (or close on failure)
    deliver,         // message complete: answer with deliver_result()
    close,           // flush pending output and close the connection
};

// A MAIL FROM / RCPT TO path as parsed from the wire (RFC 5321 §4.1.2).
struct path {
    std::string local;   // local part, unquoted form as the client wrote it (quotes removed)
    std::string domain;  // domain or address literal ("[192.0.2.1]") as written, case kept
    bool quoted = false; // local part was a quoted-string
    bool had_source_route = false; // "@a,@b:user@c" — RFC 5321 §4.1.2 says ignore; we refuse relay
    bool null_path = false; // MAIL FROM:<>
    std::string raw;     // the text between < and >
    bool is_address_literal() const { return !domain.empty() && domain.front() == '['; }
    std::string address() const; // local@domain (local re-quoted when needed); "" for <>
};

struct esmtp_param {
    std::string keyword; // upper-cased
    std::string value;   // may be empty
};

struct envelope {
    std::string helo;
    path mail_from;
    std::vector<esmtp_param> mail_params;
    std::vector<path> recipients; // the accepted ones, in order
    bool body_8bitmime = false;
    bool smtputf8 = false;
    std::optional<std::size_t> declared_size;
    std::string dsn_ret;   // RFC 3461 §4.3: "", "FULL" or "HDRS"
    std::string dsn_envid; // RFC 3461 §4.4: ENVID, xtext-decoded; "" = none
};

struct action {
    action_kind kind = action_kind::need_input;
    std::string out;                        // send
    std::string helo;                       // check_helo
    path addr;                              // check_sender / check_recipient
    std::vector<esmtp_param> params;        // check_sender / check_recipient
    std::string notify;                     // check_recipient: RFC 3461 NOTIFY, upper-cased
                                            // ("NEVER", "SUCCESS,FAILURE", …), "" = not given
    std::string orcpt;                      // check_recipient: ORCPT address, decoded; "" = none
    std::string mechanism;                  // authenticate: "PLAIN" or "LOGIN"
    std::string authzid, username, password; // authenticate
    const envelope* env = nullptr;          // deliver: valid until the next call into the fsm
    std::string* message = nullptr;         // deliver: the unstuffed message, CRLF lines;
                                            // the session may std::move from it
    bool message_dot_free = false;          // deliver: no line of *message starts with "."
    std::size_t message_prefix = 0;         // deliver: *message starts with this many octets
                                            // of server_settings::message_prefix
};

// Usage (one per connection):
//   server_fsm fsm(settings); loop { auto a = fsm.next(); switch (a.kind) ... }
//   The first next() yields the 220 greeting (send). need_input → read, feed(bytes).
//   Every check_* / authenticate / deliver action must be answered with the matching *_result()
//   before next() is called again. Replies are produced by the fsm (also for the results passed
//   in), always with enhanced status codes (except greeting/EHLO/HELO).
//   Protocol rules enforced here: command table (verb, allowed states, TLS/AUTH requirements),
//   line limits, bad-command limit, recipient limit, SIZE, 8BITMIME/SMTPUTF8 params, DSN params
//   (RFC 3461: RET/ENVID on MAIL, NOTIFY/ORCPT on RCPT; bad or repeated ones → 501 5.5.4),
//   dot-unstuffing, only <CRLF>.<CRLF> ends DATA, bare CR/LF in DATA/BDAT → message refused,
//   BDAT chunks, STARTTLS discarding pipelined plaintext, AUTH PLAIN/LOGIN (only under TLS).
class server_fsm {
public:
    explicit server_fsm(server_settings s);
    ~server_fsm();
    server_fsm(const server_fsm&) = delete;
    server_fsm& operator=(const server_fsm&) = delete;

    void feed(std::string_view bytes);
    action next();

    void helo_result(const reply& r);      // positive → the EHLO/HELO reply is sent; else r
    void sender_result(const reply& r);    // positive → transaction begins
    void recipient_result(const reply& r); // positive → recipient added
    void auth_result(bool ok, std::string_view user); // 235 2.7.0 or 535 5.7.8
    void tls_started();                    // after a successful handshake: state reset
    void deliver_result(const reply& r);   // sent as-is; transaction reset either way

    void shutdown(const reply& r); // server going away: emit r (421) then close at next()
    void eof();                    // peer closed: next() yields close (nothing delivered)

    bool tls_active() const;
    // Inside DATA or a BDAT chunk: the session reads with the data-block timeout
    // (RFC 5321 §4.5.3.2.5) instead of the command timeout.
    bool receiving_message() const;
    const std::optional<std::string>& authenticated_user() const;
    // Counters for logs.
    std::size_t bad_commands() const;

private:
    struct impl;
    impl* p_;
};

} // namespace cartero::smtp
