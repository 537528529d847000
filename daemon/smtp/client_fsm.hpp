// daemon/smtp/client_fsm.hpp — sans-I/O ESMTP client state machine: server bytes in, actions out.
#pragma once

#include "daemon/smtp/reply_parser.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartero::smtp {

enum class tls_policy {
    none,          // never STARTTLS
    opportunistic, // STARTTLS when offered; plaintext when not offered or refused (RFC 3207 §4)
    required,      // no STARTTLS offered, refused, or failed → the connection fails (tls-failure)
};

struct client_credentials {
    std::string username, password;
};

struct client_settings {
    std::string helo_name = "localhost"; // the source IP's PTR name (DESIGN.md flow 3)
    tls_policy tls = tls_policy::opportunistic;
    bool tls_active = false;          // implicit TLS (smarthost on 465): no STARTTLS, AUTH allowed
    std::optional<client_credentials> auth; // smarthost AUTH, sent only under TLS
    std::size_t max_reply_line = 512; // RFC 5321 §4.5.3.1.5
    std::size_t max_reply_lines = 100;
    // 8-bit body to a server without 8BITMIME: false = send as is (what Postfix without MIME
    // conversion and most MTAs do; converting to 7-bit would break the DKIM signature);
    // true = refuse with 554 5.6.3 as RFC 6152 §3 strictly asks.
    bool refuse_8bit_without_8bitmime = false;
    std::size_t body_chunk = 256u << 10; // DATA is emitted in send actions of about this size
};

// One recipient of a transaction, with its RFC 3461 parameters.
struct client_recipient {
    std::string address;
    std::string notify; // "" (not sent), "NEVER" or a list of SUCCESS,FAILURE,DELAY (§4.1)
    std::string orcpt;  // original recipient address ("" = none); sent as ORCPT=rfc822;xtext (§4.2)
};

// One message to one destination: MAIL FROM + RCPT TOs (one domain) + DATA.
struct transaction {
    std::uint64_t id = 0;     // the caller's tag, echoed in the result
    std::string mail_from;    // "" = null reverse-path <>
    std::vector<client_recipient> rcpts;
    std::string dsn_ret;      // "", "FULL" or "HDRS" (RFC 3461 §4.3)
    std::string dsn_envid;    // "" = none (RFC 3461 §4.4), sent xtext-encoded
    std::shared_ptr<const std::string> body; // the message, CRLF lines, not dot-stuffed
    // The caller knows that body needs no dot-stuffing (CRLF lines only, none starting with
    // "."): DATA sends it from body itself (client_action::borrowed), not from a stuffed copy.
    bool body_dot_free = false;
    bool needs_smtputf8 = false; // UTF-8 addresses or headers (RFC 6531)
    bool eight_bit = false;      // 8-bit octets in the body (RFC 6152)
};

// Where a recipient's outcome was decided.
enum class client_stage {
    greeting,      // the banner refused us (554/421/…)
    helo,          // EHLO and HELO refused
    starttls,      // TLS required but not offered, refused or the handshake failed
    auth,          // AUTH refused or impossible
    precheck,      // refused here before sending (SMTPUTF8, 8BITMIME, SIZE)
    mail,          // MAIL FROM reply
    rcpt,          // RCPT TO reply
    data,          // DATA reply (not 354)
    data_end,      // the reply after "."
    not_attempted, // the connection ended before this transaction started: retry elsewhere
};
const char* to_string(client_stage s);

struct recipient_result {
    std::string address;
    remote_reply reply;  // the reply that decided this recipient (verbatim when remote)
    client_stage stage = client_stage::not_attempted;
    bool delivered() const { return reply.r.positive(); }
    bool permanent() const { return reply.r.permanent(); }
    bool temporary() const { return reply.r.temporary(); }
};

struct transaction_result {
    std::uint64_t id = 0;
    std::vector<recipient_result> recipients; // same order as transaction::rcpts
    std::optional<remote_reply> mail_reply;   // as received (absent when MAIL was not sent)
    std::optional<remote_reply> final_reply;  // after "." (absent when the body was not sent)
};

enum class client_action_kind {
    send,             // write `out`; more actions may follow (pipelining: flush at need_input)
    need_input,       // flush pending writes, read, then feed() (or eof())
    start_tls,        // flush, TLS handshake, then tls_started() (or tls_failed())
    transaction_done, // `result` holds every recipient's outcome of one transaction
    idle,             // between transactions: add_transaction() or no_more_transactions()
    close,            // flush and close the connection; repeated by every later next()
};

struct client_action {
    client_action_kind kind = client_action_kind::need_input;
    std::string out;                          // send
    // send: after `out`, these octets of the transaction's body, then `after`; valid until
    // the next call into the fsm (the driver writes them all at once, pending output first).
    std::string_view borrowed;
    std::string after;
    std::optional<transaction_result> result; // transaction_done
};

// Which RFC 5321 §4.5.3.2 timeout the driver applies to the current read or write.
enum class client_timeout {
    none,     // waiting for the driver (idle, start_tls), or closed
    initial,  // §4.5.3.2.1 greeting: 5 min
    command,  // EHLO, HELO, STARTTLS, AUTH, RSET, QUIT: 5 min (as MAIL; the RFC names none)
    mail,     // §4.5.3.2.2: 5 min
    rcpt,     // §4.5.3.2.3: 5 min
    data_init,// §4.5.3.2.4: 2 min for the 354
    data_block,// §4.5.3.2.5: 3 min for each write of the body
    data_term,// §4.5.3.2.6: 10 min for the reply after "."
};
std::chrono::seconds timeout_duration(client_timeout t);

// EHLO keywords the server offered (RFC 5321 §4.1.1.1).
struct server_extensions {
    bool esmtp = false; // EHLO accepted (false after the HELO fallback)
    bool pipelining = false, eight_bit_mime = false, smtputf8 = false, starttls = false;
    bool dsn = false, chunking = false, enhanced_status_codes = false;
    bool size = false;
    std::size_t size_limit = 0; // 0 = no fixed limit (RFC 1870 §4)
    std::vector<std::string> auth_mechanisms; // upper-cased
};

// Usage (one per connection; the driver connects, then):
//   client_fsm c(settings); c.add_transaction(t) …;
//   loop { auto a = c.next(); switch (a.kind) … }
//   send → write a.out (may be queued until need_input: pipelined commands go in one write);
//   need_input → read with timeout_duration(c.current_timeout()), feed(bytes) or eof();
//   start_tls → handshake, then tls_started(version, cipher) or tls_failed(why);
//   transaction_done → record a.result (every recipient has an outcome, in order);
//   idle → add_transaction(…) or no_more_transactions(); close → close the socket.
// Every transaction added gets exactly one transaction_done, whatever happens to the
// connection (lost, refused, protocol error): nothing is silently dropped. After close, added
// transactions come back at once as not_attempted.
// Timeout expiry is the driver's: it calls timed_out(), which fails what is unfinished like a
// lost connection (4.4.1 instead of 4.4.2) and closes.
// Failure replies made up here (remote_reply::local):
//   protocol error from the server        451 4.4.0 Protocol error from remote server: …
//   connection lost / timed out           451 4.4.2 / 4.4.1 …
//   TLS required but unavailable/failed   451 4.7.4 / 4.7.5 …   (classified tls-failure)
//   AUTH failed or impossible             454 4.7.0 …
//   SMTPUTF8 needed, not offered          550 5.6.7 … remote server does not support SMTPUTF8
//   8-bit, no 8BITMIME (when refused)     554 5.6.3 …
//   larger than the server's SIZE         552 5.3.4 …
class client_fsm {
public:
    explicit client_fsm(client_settings s);
    ~client_fsm();
    client_fsm(const client_fsm&) = delete;
    client_fsm& operator=(const client_fsm&) = delete;

    void add_transaction(transaction t);
    void no_more_transactions(); // QUIT once the queued ones are done
    void feed(std::string_view bytes);
    client_action next();

    void tls_started(std::string version, std::string cipher);
    void tls_failed(std::string_view why);
    void eof();       // the server closed (or the socket failed)
    void timed_out(); // the current timeout expired

    client_timeout current_timeout() const;
    bool tls_active() const;
    const std::string& tls_version() const; // as given to tls_started(); "" without TLS
    const std::string& tls_cipher() const;
    const server_extensions& extensions() const;
    const std::optional<remote_reply>& greeting() const;
    // Why the connection ended early (refused greeting, EHLO/TLS/AUTH failure, protocol error,
    // lost connection); empty after a normal QUIT.
    const std::optional<remote_reply>& connection_error() const;
    bool authenticated() const;

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

// RFC 3461 §4: xtext encoding of ENVID and ORCPT values ("+" HEX for '+', '=', and octets
// outside 33..126).
std::string xtext_encode(std::string_view s);

} // namespace cartero::smtp
