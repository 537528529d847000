// daemon/smtp/server_fsm.cpp — the ESMTP server state machine: dispatch, replies, limits, modes.
#include "daemon/smtp/server_fsm.hpp"

#include "daemon/smtp/command_parser.hpp"
#include "daemon/smtp/data_reader.hpp"
#include "daemon/smtp/esmtp_params.hpp"
#include "daemon/smtp/path_parser.hpp"
#include "daemon/smtp/sasl.hpp"

#include <cstring>
#include <deque>
#include <stdexcept>

namespace cartero::smtp {

namespace {

// Compact the input buffer once this much of its front has been consumed.
constexpr std::size_t compact_after = 64u << 10;

bool parse_size(std::string_view s, std::size_t& out) {
    // At most 18 digits: fits std::size_t, and no message is an exabyte.
    if (s.empty() || s.size() > 18) return false;
    std::size_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::size_t>(c - '0');
    }
    out = v;
    return true;
}

// Replies given by the session may lack an enhanced code; RFC 2034 §3 wants one on every reply
// once ENHANCEDSTATUSCODES is advertised.
reply with_enhanced(reply r, const char* positive_default) {
    if (r.enhanced.empty()) {
        if (r.positive()) r.enhanced = positive_default;
        else r.enhanced = std::to_string(r.code / 100) + ".0.0";
    }
    if (r.lines.empty()) r.lines.emplace_back(r.positive() ? "Ok" : "Refused");
    return r;
}

const char* path_error_text(path_error e) {
    switch (e) {
    case path_error::too_long: return "Path too long (RFC 5321 §4.5.3.1.3)";
    case path_error::local_too_long: return "Local part too long (RFC 5321 §4.5.3.1.1)";
    case path_error::domain_too_long: return "Domain too long (RFC 5321 §4.5.3.1.2)";
    case path_error::bad_utf8: return "Malformed UTF-8 in address";
    case path_error::unsupported_literal: return "Unsupported address literal";
    case path_error::syntax:
    case path_error::none: break;
    }
    return "address syntax";
}

} // namespace

struct server_fsm::impl {
    enum class mode { command, discard_line, data, bdat, auth, tls_wait, closed };
    enum class awaiting { none, helo, sender, recipient, auth, deliver };

    server_settings s_;
    mode mode_ = mode::command;
    awaiting await_ = awaiting::none;
    std::deque<action> out_;
    std::string in_;
    std::size_t pos_ = 0;
    bool greeted_ = false;
    bool tls_active_ = false;
    std::optional<std::string> user_;
    std::size_t bad_ = 0;

    // Session and transaction.
    bool have_helo_ = false;
    bool in_tx_ = false;
    bool bdat_tx_ = false; // BDAT chunks received in this transaction (RFC 3030 §3)
    envelope env_;
    std::string message_;
    std::size_t prefix_len_ = 0; // of message_: server_settings::message_prefix

    // What a check_* / authenticate action is waiting for.
    std::string pending_helo_;
    bool pending_esmtp_ = false;
    path pending_path_;
    std::vector<esmtp_param> pending_params_;
    bool pending_8bit_ = false, pending_utf8_ = false;
    std::optional<std::size_t> pending_size_;
    std::string pending_ret_, pending_envid_;

    sasl_exchange sasl_;
    data_reader data_;
    bdat_reader bdat_;
    std::size_t bdat_chunk_ = 0;     // octets announced by the current BDAT
    std::size_t bdat_skip_ = 0;      // BDAT refused: octets still to swallow
    bool bdat_last_ = false;
    std::string bdat_refusal_;       // non-empty: reply 503 with this once the chunk is consumed

    explicit impl(server_settings s) : s_(std::move(s)), tls_active_(s_.tls_active) {}

    // ---- output -------------------------------------------------------------------------
    void send(std::string wire) {
        action a;
        a.kind = action_kind::send;
        a.out = std::move(wire);
        out_.push_back(std::move(a));
    }
    void close() {
        action a;
        a.kind = action_kind::close;
        out_.push_back(std::move(a));
        mode_ = mode::closed;
        await_ = awaiting::none;
    }
    void count_bad() {
        ++bad_;
        if (s_.max_bad_commands != 0 && bad_ >= s_.max_bad_commands && mode_ != mode::closed) {
            send(reply(421, "4.7.0", "Too many errors").wire());
            close();
        }
    }
    // A reply to a command line; 5xx to a verb that counts (and every error the table cannot
    // attribute to a verb) moves the bad-command counter.
    void respond(const reply& r, bool counts) {
        send(r.wire());
        if (counts && r.permanent()) count_bad();
    }
    void respond(int code, const char* enh, const char* text, bool counts = true) {
        respond(reply(code, enh, text), counts);
    }

    std::uint8_t state() const;

    void reset_tx() {
        in_tx_ = false;
        bdat_tx_ = false;
        env_.mail_from = {};
        env_.mail_params.clear();
        env_.recipients.clear();
        env_.body_8bitmime = false;
        env_.smtputf8 = false;
        env_.declared_size.reset();
        env_.dsn_ret.clear();
        env_.dsn_envid.clear();
        message_ = std::string(); // release up to max_message_size
    }

    body_limits limits() const { return {s_.max_message_size, s_.max_text_line}; }

    // ---- input --------------------------------------------------------------------------
    std::string_view pending_input() const {
        return std::string_view(in_).substr(pos_);
    }
    void compact() {
        if (pos_ == in_.size()) {
            in_.clear();
            pos_ = 0;
        } else if (pos_ > compact_after && pos_ > in_.size() / 2) {
            in_.erase(0, pos_);
            pos_ = 0;
        }
    }

    void process();
    bool take_line(std::string_view& line);
    void on_command(std::string_view line);
    void on_auth_line(std::string_view line);
    void on_sasl(sasl_step st);
    void finish_data(body_verdict v, bool dot_free = false);
    // What a message starting now is stored behind (server_settings::message_prefix).
    std::string message_prefix() {
        std::string p = s_.message_prefix ? s_.message_prefix(env_) : std::string();
        prefix_len_ = p.size();
        return p;
    }
    void finish_chunk();
    void sequence_error(verb v);

    void do_helo(const command_line& c, bool esmtp);
    void do_mail(const command_line& c);
    void do_rcpt(const command_line& c);
    void do_data();
    void do_bdat(const command_line& c);
    void do_starttls();
    void do_auth(const command_line& c);
    std::string ehlo_reply() const;
};

std::uint8_t server_fsm::impl::state() const {
    if (!have_helo_) return st_initial;
    if (!in_tx_) return st_helo;
    if (bdat_tx_) return st_bdat;
    return env_.recipients.empty() ? st_mail : st_rcpt;
}

// Reads one CRLF-terminated line from the buffer. false: need more input or the line was
// handled here (too long, bare LF); `line` is then empty and out_ tells which.
bool server_fsm::impl::take_line(std::string_view& line) {
    std::string_view view = pending_input();
    std::size_t limit = s_.max_command_line;
    line_class lc = mode_ == mode::auth ? line_class::auth : line_class_for(view.substr(0, 5));
    if (lc == line_class::mail_rcpt) limit = s_.max_mail_rcpt_line;
    if (lc == line_class::auth) limit = s_.max_auth_line;

    const auto* lf = static_cast<const char*>(std::memchr(view.data(), '\n', view.size()));
    if (!lf) {
        if (view.size() >= limit) { // cannot fit even with its CRLF still to come
            pos_ = in_.size();
            mode_ = mode::discard_line; // RFC 5321 §4.5.3.1.10: 500, then resynchronise at LF
            respond(500, "5.5.6", "Line too long");
            if (mode_ != mode::closed) mode_ = mode::discard_line;
        }
        return false;
    }
    std::size_t len = static_cast<std::size_t>(lf - view.data()) + 1;
    pos_ += len;
    if (len > limit) {
        if (mode_ == mode::auth) mode_ = mode::command;
        respond(500, "5.5.6", "Line too long");
        return false;
    }
    if (len < 2 || view[len - 2] != '\r') {
        // RFC 5321 §2.3.8: lines end with CRLF. Accepting a bare LF here is harmless for the
        // command itself but teaches clients what DATA then refuses; be consistent.
        if (mode_ == mode::auth) mode_ = mode::command;
        respond(500, "5.5.2", "Syntax error: lines must end with <CR><LF> (RFC 5321 §2.3.8)");
        return false;
    }
    line = view.substr(0, len - 2);
    return true;
}

void server_fsm::impl::process() {
    while (out_.empty() && await_ == awaiting::none) {
        switch (mode_) {
        case mode::closed:
        case mode::tls_wait:
            return;
        case mode::discard_line: {
            std::string_view view = pending_input();
            const auto* lf = static_cast<const char*>(std::memchr(view.data(), '\n', view.size()));
            if (!lf) {
                pos_ = in_.size();
                compact();
                return;
            }
            pos_ += static_cast<std::size_t>(lf - view.data()) + 1;
            mode_ = mode::command;
            break;
        }
        case mode::command:
        case mode::auth: {
            std::string_view line;
            bool was_auth = mode_ == mode::auth;
            if (!take_line(line)) {
                if (out_.empty()) {
                    compact();
                    return;
                }
                break;
            }
            if (was_auth) on_auth_line(line);
            else on_command(line);
            break;
        }
        case mode::data: {
            std::size_t used = data_.feed(pending_input());
            pos_ += used;
            if (!data_.done()) {
                compact();
                return;
            }
            mode_ = mode::command;
            finish_data(data_.verdict(), data_.dot_free());
            break;
        }
        case mode::bdat: {
            std::string_view view = pending_input();
            if (bdat_skip_ > 0) {
                std::size_t take = std::min(bdat_skip_, view.size());
                bdat_skip_ -= take;
                pos_ += take;
                if (bdat_skip_ > 0) {
                    compact();
                    return;
                }
            } else {
                pos_ += bdat_.feed(view);
                if (!bdat_.chunk_done()) {
                    compact();
                    return;
                }
            }
            mode_ = mode::command;
            finish_chunk();
            break;
        }
        }
    }
    compact();
}

void server_fsm::impl::sequence_error(verb v) {
    const char* text = "Bad sequence of commands";
    std::uint8_t st = state();
    switch (v) {
    case verb::mail:
        text = st == st_initial ? "Send EHLO/HELO first" : "Nested MAIL command";
        break;
    case verb::rcpt:
        text = st == st_bdat ? "RCPT not allowed after BDAT" : "Need MAIL command";
        break;
    case verb::data:
    case verb::bdat:
        if (st == st_bdat) text = "DATA not allowed after BDAT (RFC 3030 §3)";
        else if (st == st_mail) text = "Need RCPT command";
        else text = "Need MAIL command";
        break;
    case verb::starttls:
    case verb::auth:
        text = st == st_initial ? "Send EHLO first" : "Not allowed during a mail transaction";
        break;
    default:
        text = "Not allowed during BDAT transfer (RFC 3030 §3)";
        break;
    }
    respond(503, "5.5.1", text);
}

void server_fsm::impl::on_command(std::string_view line) {
    // A NUL or a lone CR inside a command line is not SMTP text (RFC 5321 §4.1.1).
    if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
        respond(501, "5.5.4", "Syntax error: invalid character in command");
        return;
    }
    command_line c = parse_command_line(line);
    if (!c.spec) {
        respond(500, "5.5.1", "Command unrecognized");
        return;
    }
    const command_spec& spec = *c.spec;
    // Extensions not offered on this listener behave as unimplemented (RFC 5321 §4.2.4).
    if (spec.v == verb::starttls && !s_.tls_available && !tls_active_) {
        respond(502, "5.5.1", "STARTTLS not available");
        return;
    }
    if (spec.v == verb::auth && !s_.auth_available) {
        respond(502, "5.5.1", "AUTH not available");
        return;
    }
    if (spec.tls == tls_rule::before_tls && tls_active_) {
        respond(503, "5.5.1", "TLS already active (RFC 3207 §4.2)");
        return;
    }
    if (!spec.takes_args && !c.args.empty()) {
        respond(reply(501, "5.5.4", "Syntax: " + std::string(spec.name) + " takes no argument"),
                spec.counts_bad);
        return;
    }
    if (!(spec.allowed & state())) {
        sequence_error(spec.v);
        return;
    }
    switch (spec.v) {
    case verb::ehlo: return do_helo(c, true);
    case verb::helo: return do_helo(c, false);
    case verb::mail: return do_mail(c);
    case verb::rcpt: return do_rcpt(c);
    case verb::data: return do_data();
    case verb::bdat: return do_bdat(c);
    case verb::starttls: return do_starttls();
    case verb::auth: return do_auth(c);
    case verb::rset:
        reset_tx(); // RFC 5321 §4.1.1.5
        return respond(250, "2.0.0", "Ok", false);
    case verb::noop:
        return respond(250, "2.0.0", "Ok", false);
    case verb::quit:
        respond(221, "2.0.0", "Bye", false);
        return close();
    case verb::help:
        return respond(214, "2.0.0",
                       "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY "
                       "STARTTLS AUTH",
                       false);
    case verb::vrfy:
        if (c.args.empty()) return respond(501, "5.5.4", "Syntax: VRFY address");
        // RFC 5321 §3.5.3 / §7.3: the same answer for every argument, no user enumeration.
        return respond(252, "2.5.0",
                       "Cannot VRFY user, but will accept message and attempt delivery");
    case verb::expn:
        return respond(502, "5.5.1", "EXPN not available"); // RFC 5321 §7.3
    }
}

std::string server_fsm::impl::ehlo_reply() const {
    reply r;
    r.code = 250;
    r.lines = {s_.hostname, "PIPELINING", "SIZE " + std::to_string(s_.max_message_size),
               "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"};
    if (s_.tls_available && !tls_active_) r.lines.emplace_back("STARTTLS");
    // RFC 4954 §4 + RFC 8314 §3: no plaintext passwords, so AUTH only inside TLS.
    if (s_.auth_available && tls_active_) r.lines.emplace_back("AUTH PLAIN LOGIN");
    return r.wire();
}

void server_fsm::impl::do_helo(const command_line& c, bool esmtp) {
    if (c.args.empty())
        return respond(501, "5.5.4", esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
    reset_tx(); // RFC 5321 §4.1.4: EHLO/HELO in a session resets it as RSET would
    pending_helo_.assign(c.args);
    pending_esmtp_ = esmtp;
    action a;
    a.kind = action_kind::check_helo;
    a.helo = pending_helo_;
    out_.push_back(std::move(a));
    await_ = awaiting::helo;
}

void server_fsm::impl::do_mail(const command_line& c) {
    if (s_.auth_required && !user_) return respond(530, "5.7.0", "Authentication required");
    auto args = parse_mail_rcpt_args(c.args, "FROM:", path_kind::reverse);
    switch (args.error) {
    case args_error::none: break;
    case args_error::syntax: return respond(501, "5.5.4", "Syntax: MAIL FROM:<address>");
    case args_error::bad_params: return respond(501, "5.5.4", "Syntax error in parameters");
    case args_error::bad_path:
        return respond(reply(501, "5.1.7",
                             std::string("Bad sender address: ") + path_error_text(args.path.error)),
                       true);
    }
    bool eight = false, utf8 = false, seen_size = false, seen_body = false, seen_auth = false;
    bool seen_envid = false;
    std::optional<std::size_t> size;
    std::string ret, envid;
    for (const auto& p : args.params) {
        if (p.keyword == "SIZE") { // RFC 1870 §6
            std::size_t n = 0;
            if (seen_size || !parse_size(p.value, n))
                return respond(501, "5.5.4", "Syntax: SIZE=<octets>");
            seen_size = true;
            if (n > s_.max_message_size)
                return respond(552, "5.3.4", "Message size exceeds fixed maximum message size");
            size = n;
        } else if (p.keyword == "BODY") { // RFC 6152 §2
            if (seen_body) return respond(501, "5.5.4", "Duplicate BODY parameter");
            seen_body = true;
            if (iequals(p.value, "8BITMIME")) eight = true;
            else if (!iequals(p.value, "7BIT"))
                return respond(501, "5.5.4", "Syntax: BODY=7BIT or BODY=8BITMIME");
        } else if (p.keyword == "SMTPUTF8") { // RFC 6531 §3.4: no value
            if (utf8 || !p.value.empty()) return respond(501, "5.5.4", "Syntax: SMTPUTF8");
            utf8 = true;
        } else if (p.keyword == "AUTH") { // RFC 4954 §5: accepted, not trusted, ignored
            if (seen_auth) return respond(501, "5.5.4", "Duplicate AUTH parameter");
            seen_auth = true;
        } else if (p.keyword == "RET") { // RFC 3461 §4.3
            if (!ret.empty()) return respond(501, "5.5.4", "Duplicate RET parameter");
            if (iequals(p.value, "FULL")) ret = "FULL";
            else if (iequals(p.value, "HDRS")) ret = "HDRS";
            else return respond(501, "5.5.4", "Syntax: RET=FULL or RET=HDRS");
        } else if (p.keyword == "ENVID") { // RFC 3461 §4.4: xtext, at most 100 characters
            if (seen_envid) return respond(501, "5.5.4", "Duplicate ENVID parameter");
            seen_envid = true;
            auto v = p.value.size() <= 100 ? xtext_decode(p.value) : std::nullopt;
            if (!v || v->empty())
                return respond(501, "5.5.4", "Syntax: ENVID=<xtext, at most 100 characters>");
            envid = std::move(*v);
        } else {
            return respond(reply(555, "5.5.4", "Unsupported parameter " + p.keyword), true);
        }
    }
    if (args.path.utf8 && !utf8) // RFC 6531 §3.2
        return respond(553, "5.6.7", "Non-ASCII address requires SMTPUTF8 (RFC 6531 §3.2)");
    pending_path_ = std::move(args.path.value);
    pending_params_ = std::move(args.params);
    pending_8bit_ = eight;
    pending_utf8_ = utf8;
    pending_size_ = size;
    pending_ret_ = std::move(ret);
    pending_envid_ = std::move(envid);
    action a;
    a.kind = action_kind::check_sender;
    a.addr = pending_path_;
    a.params = pending_params_;
    out_.push_back(std::move(a));
    await_ = awaiting::sender;
}

void server_fsm::impl::do_rcpt(const command_line& c) {
    auto args = parse_mail_rcpt_args(c.args, "TO:", path_kind::forward);
    switch (args.error) {
    case args_error::none: break;
    case args_error::syntax: return respond(501, "5.5.4", "Syntax: RCPT TO:<address>");
    case args_error::bad_params: return respond(501, "5.5.4", "Syntax error in parameters");
    case args_error::bad_path:
        return respond(
            reply(501, "5.1.3", std::string("Bad recipient address: ") + path_error_text(args.path.error)),
            true);
    }
    std::string notify, orcpt;
    bool seen_notify = false, seen_orcpt = false;
    for (const auto& p : args.params) {
        if (p.keyword == "NOTIFY") { // RFC 3461 §4.1
            if (seen_notify) return respond(501, "5.5.4", "Duplicate NOTIFY parameter");
            seen_notify = true;
            auto v = parse_notify(p.value);
            if (!v)
                return respond(501, "5.5.4",
                               "Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY (any of)");
            notify = std::move(*v);
        } else if (p.keyword == "ORCPT") { // RFC 3461 §4.2
            if (seen_orcpt) return respond(501, "5.5.4", "Duplicate ORCPT parameter");
            seen_orcpt = true;
            auto v = parse_orcpt(p.value);
            if (!v) return respond(501, "5.5.4", "Syntax: ORCPT=rfc822;<xtext address>");
            orcpt = std::move(*v);
        } else {
            return respond(reply(555, "5.5.4", "Unsupported parameter " + p.keyword), true);
        }
    }
    if (args.path.utf8 && !env_.smtputf8) // RFC 6531 §3.2
        return respond(553, "5.6.7", "Non-ASCII address requires SMTPUTF8 (RFC 6531 §3.2)");
    if (env_.recipients.size() >= s_.max_recipients) // RFC 5321 §4.5.3.1.10
        return respond(452, "4.5.3", "Too many recipients");
    pending_path_ = std::move(args.path.value);
    action a;
    a.kind = action_kind::check_recipient;
    a.addr = pending_path_;
    a.params = std::move(args.params);
    a.notify = std::move(notify);
    a.orcpt = std::move(orcpt);
    out_.push_back(std::move(a));
    await_ = awaiting::recipient;
}

void server_fsm::impl::do_data() {
    data_.begin(&message_, limits(), env_.declared_size.value_or(0), message_prefix());
    mode_ = mode::data;
    send("354 End data with <CR><LF>.<CR><LF>\r\n"); // 3xx: no enhanced code (RFC 3463 §3)
}

void server_fsm::impl::finish_data(body_verdict v, bool dot_free) {
    switch (v) {
    case body_verdict::ok: {
        action a;
        a.kind = action_kind::deliver;
        a.env = &env_;
        a.message = &message_;
        a.message_dot_free = dot_free;
        a.message_prefix = prefix_len_;
        out_.push_back(std::move(a));
        await_ = awaiting::deliver;
        return;
    }
    case body_verdict::bare_cr_lf:
        respond(550, "5.6.0",
                "Message refused: bare CR or LF in message data (RFC 5321 §2.3.8)", false);
        break;
    case body_verdict::line_too_long:
        respond(550, "5.6.0",
                "Message refused: line longer than 998 characters (RFC 5322 §2.1.1)", false);
        break;
    case body_verdict::too_big:
        respond(552, "5.3.4", "Message too big", false);
        break;
    }
    reset_tx();
}

void server_fsm::impl::do_bdat(const command_line& c) {
    // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CRLF
    std::string_view args = c.args;
    std::size_t sp = args.find(' ');
    std::string_view num = args.substr(0, sp);
    std::string_view rest = sp == std::string_view::npos ? std::string_view{} : args.substr(sp);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    std::size_t n = 0;
    if (!parse_size(num, n) || (!rest.empty() && !iequals(rest, "LAST"))) {
        // The chunk length is unknown, so the octets that follow cannot be told from commands:
        // there is no way to resynchronise. Refuse permanently (a retry would fail the same
        // way) and close.
        send(reply(501, "5.5.4", "Syntax: BDAT <size> [LAST]; closing connection").wire());
        ++bad_;
        return close();
    }
    bdat_chunk_ = n;
    bdat_last_ = !rest.empty();
    mode_ = mode::bdat;
    std::uint8_t st = state();
    if (!(st & (st_rcpt | st_bdat))) {
        // RFC 3030 §3: the chunk is consumed before the 503 goes out.
        bdat_refusal_ = st == st_mail ? "Need RCPT command" : "Need MAIL command";
        if (st == st_initial) bdat_refusal_ = "Send EHLO/HELO first";
        bdat_skip_ = n;
        return;
    }
    if (!bdat_tx_) {
        bdat_tx_ = true;
        bdat_.begin(&message_, limits(), env_.declared_size.value_or(0), message_prefix());
    }
    bdat_.start_chunk(n);
}

void server_fsm::impl::finish_chunk() {
    if (!bdat_refusal_.empty()) {
        std::string text = std::move(bdat_refusal_);
        bdat_refusal_.clear();
        return respond(reply(503, "5.5.1", text), true);
    }
    if (bdat_last_) {
        bdat_.finish();
        return finish_data(bdat_.verdict(), bdat_.dot_free());
    }
    // RFC 3030 §3: a refused chunk fails the transaction; tell the client now.
    if (bdat_.verdict() != body_verdict::ok) return finish_data(bdat_.verdict());
    respond(reply(250, "2.0.0", std::to_string(bdat_chunk_) + " octets received"), false);
}

void server_fsm::impl::do_starttls() {
    send(reply(220, "2.0.0", "Ready to start TLS").wire());
    // RFC 3207 §4.2 (CVE-2011-0411): whatever the client sent after STARTTLS in plaintext must
    // not be taken as if it came through TLS.
    in_.clear();
    pos_ = 0;
    mode_ = mode::tls_wait;
    action a;
    a.kind = action_kind::start_tls;
    out_.push_back(std::move(a));
}

void server_fsm::impl::do_auth(const command_line& c) {
    if (user_) return respond(503, "5.5.1", "Already authenticated (RFC 4954 §4)");
    if (!tls_active_) // RFC 4954 §6
        return respond(538, "5.7.11", "Encryption required for requested authentication mechanism");
    std::string_view args = c.args;
    std::size_t sp = args.find(' ');
    std::string_view mech = args.substr(0, sp);
    std::optional<std::string_view> initial;
    if (sp != std::string_view::npos) {
        std::string_view ir = args.substr(sp);
        while (!ir.empty() && ir.front() == ' ') ir.remove_prefix(1);
        if (ir.find(' ') != std::string_view::npos)
            return respond(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
        initial = ir;
    }
    if (mech.empty()) return respond(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
    on_sasl(sasl_.start(mech, initial));
}

void server_fsm::impl::on_auth_line(std::string_view line) {
    mode_ = mode::command;
    if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos)
        return respond(501, "5.5.2", "Cannot decode response");
    on_sasl(sasl_.step(line));
}

void server_fsm::impl::on_sasl(sasl_step st) {
    switch (st.kind) {
    case sasl_step::challenge:
        send("334 " + st.challenge_b64 + "\r\n");
        mode_ = mode::auth;
        return;
    case sasl_step::fail:
        mode_ = mode::command;
        return respond(st.error, true);
    case sasl_step::done:
        mode_ = mode::command;
        // No proxy authorisation: an authzid other than the user is refused here (RFC 4616 §2).
        if (!st.creds.authzid.empty() && st.creds.authzid != st.creds.username)
            return respond(535, "5.7.8", "Authentication credentials invalid");
        action a;
        a.kind = action_kind::authenticate;
        a.mechanism = std::move(st.creds.mechanism);
        a.authzid = std::move(st.creds.authzid);
        a.username = std::move(st.creds.username);
        a.password = std::move(st.creds.password);
        out_.push_back(std::move(a));
        await_ = awaiting::auth;
        return;
    }
}

// ---- public API -----------------------------------------------------------------------------

server_fsm::server_fsm(server_settings s) : p_(new impl(std::move(s))) {}
server_fsm::~server_fsm() { delete p_; }

void server_fsm::feed(std::string_view bytes) {
    // After STARTTLS and before the handshake, plaintext is dropped (RFC 3207 §4.2).
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed || m.mode_ == impl::mode::tls_wait) return;
    // A message body goes from the caller's buffer straight into the data reader: copying
    // every octet into in_ first cost as much as reading it (100 KB messages, callgrind).
    // Only when nothing is waiting before it; what follows the end marker (pipelined
    // commands) is kept for process() as usual.
    if (m.mode_ == impl::mode::data && m.pos_ == m.in_.size() && m.out_.empty() &&
        m.await_ == impl::awaiting::none && !m.data_.done()) {
        m.in_.clear();
        m.pos_ = 0;
        bytes.remove_prefix(m.data_.feed(bytes));
    }
    m.in_.append(bytes);
}

action server_fsm::next() {
    impl& m = *p_;
    if (m.out_.empty()) {
        if (m.mode_ == impl::mode::closed) {
            action a;
            a.kind = action_kind::close;
            return a;
        }
        if (m.await_ != impl::awaiting::none)
            throw std::logic_error("server_fsm::next() called before the pending *_result()");
        if (m.mode_ == impl::mode::tls_wait)
            throw std::logic_error("server_fsm::next() called before tls_started()");
        if (!m.greeted_) {
            m.greeted_ = true;
            // RFC 5321 §4.2: the greeting has no enhanced code (RFC 2034 §3).
            m.send("220 " + m.s_.hostname + " ESMTP Cartero\r\n");
        } else {
            m.process();
        }
    }
    if (m.out_.empty()) return action{}; // need_input
    action a = std::move(m.out_.front());
    m.out_.pop_front();
    return a;
}

namespace {
void expect(bool ok, const char* what) {
    if (!ok) throw std::logic_error(what);
}
} // namespace

void server_fsm::helo_result(const reply& r) {
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed) return; // eof()/shutdown() won the race
    expect(m.await_ == impl::awaiting::helo, "helo_result() without check_helo");
    m.await_ = impl::awaiting::none;
    if (!r.positive()) return m.respond(r, true); // the session's reply, as given
    m.have_helo_ = true;
    m.env_.helo = m.pending_helo_;
    if (m.pending_esmtp_) m.send(m.ehlo_reply());
    else m.send("250 " + m.s_.hostname + "\r\n");
}

void server_fsm::sender_result(const reply& r) {
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed) return; // eof()/shutdown() won the race
    expect(m.await_ == impl::awaiting::sender, "sender_result() without check_sender");
    m.await_ = impl::awaiting::none;
    if (r.positive()) {
        m.in_tx_ = true;
        m.env_.mail_from = std::move(m.pending_path_);
        m.env_.mail_params = std::move(m.pending_params_);
        m.env_.body_8bitmime = m.pending_8bit_;
        m.env_.smtputf8 = m.pending_utf8_;
        m.env_.declared_size = m.pending_size_;
        m.env_.dsn_ret = std::move(m.pending_ret_);
        m.env_.dsn_envid = std::move(m.pending_envid_);
    }
    m.respond(with_enhanced(r, "2.1.0"), true);
}

void server_fsm::recipient_result(const reply& r) {
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed) return; // eof()/shutdown() won the race
    expect(m.await_ == impl::awaiting::recipient, "recipient_result() without check_recipient");
    m.await_ = impl::awaiting::none;
    if (r.positive()) m.env_.recipients.push_back(std::move(m.pending_path_));
    m.respond(with_enhanced(r, "2.1.5"), true);
}

void server_fsm::auth_result(bool ok, std::string_view user) {
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed) return; // eof()/shutdown() won the race
    expect(m.await_ == impl::awaiting::auth, "auth_result() without authenticate");
    m.await_ = impl::awaiting::none;
    if (ok) {
        m.user_ = std::string(user);
        m.respond(235, "2.7.0", "Authentication successful", false);
    } else {
        m.respond(535, "5.7.8", "Authentication credentials invalid"); // counts: brute force
    }
}

void server_fsm::tls_started() {
    impl& m = *p_;
    expect(m.mode_ == impl::mode::tls_wait, "tls_started() without start_tls");
    // RFC 3207 §4.2: discard all knowledge obtained from the client before TLS.
    m.tls_active_ = true;
    m.mode_ = impl::mode::command;
    m.have_helo_ = false;
    m.env_.helo.clear();
    m.reset_tx();
    m.user_.reset();
    m.in_.clear();
    m.pos_ = 0;
}

void server_fsm::deliver_result(const reply& r) {
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed) return; // eof()/shutdown() won the race
    expect(m.await_ == impl::awaiting::deliver, "deliver_result() without deliver");
    m.await_ = impl::awaiting::none;
    m.respond(with_enhanced(r, "2.0.0"), false);
    m.reset_tx();
}

void server_fsm::shutdown(const reply& r) {
    impl& m = *p_;
    if (m.mode_ == impl::mode::closed) return;
    m.send(with_enhanced(r, "2.0.0").wire());
    m.close();
}

void server_fsm::eof() {
    impl& m = *p_;
    // The peer is gone: nothing queued can reach it, a message in progress is dropped.
    m.out_.clear();
    m.reset_tx();
    m.in_.clear();
    m.pos_ = 0;
    m.mode_ = impl::mode::closed;
    m.await_ = impl::awaiting::none;
}

bool server_fsm::tls_active() const { return p_->tls_active_; }

bool server_fsm::receiving_message() const {
    return p_->mode_ == impl::mode::data || p_->mode_ == impl::mode::bdat;
}
const std::optional<std::string>& server_fsm::authenticated_user() const { return p_->user_; }
std::size_t server_fsm::bad_commands() const { return p_->bad_; }

} // namespace cartero::smtp
