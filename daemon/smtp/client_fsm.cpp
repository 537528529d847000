// daemon/smtp/client_fsm.cpp — the ESMTP client state machine: session setup, transactions, QUIT.
#include "daemon/smtp/client_fsm.hpp"

#include "daemon/smtp/dot_stuffer.hpp"
#include "daemon/smtp/sasl.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace cartero::smtp {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

bool parse_number(std::string_view s, std::size_t& out) {
    if (s.empty() || s.size() > 18) return false;
    std::size_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::size_t>(c - '0');
    }
    out = v;
    return true;
}

// RFC 5321 §4.1.1.1: each EHLO line after the first is "keyword [params]".
server_extensions parse_ehlo(const reply& r) {
    server_extensions e;
    e.esmtp = true;
    for (std::size_t i = 1; i < r.lines.size(); ++i) {
        std::string_view line = r.lines[i];
        std::size_t sp = line.find(' ');
        std::string kw = upper(line.substr(0, sp));
        std::string_view args = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        if (kw == "PIPELINING") e.pipelining = true;           // RFC 2920
        else if (kw == "8BITMIME") e.eight_bit_mime = true;    // RFC 6152
        else if (kw == "SMTPUTF8") e.smtputf8 = true;          // RFC 6531
        else if (kw == "STARTTLS") e.starttls = true;          // RFC 3207
        else if (kw == "DSN") e.dsn = true;                    // RFC 3461
        else if (kw == "CHUNKING") e.chunking = true;          // RFC 3030
        else if (kw == "ENHANCEDSTATUSCODES") e.enhanced_status_codes = true; // RFC 2034
        else if (kw == "SIZE") {                               // RFC 1870 §4
            e.size = true;
            std::size_t n = 0;
            if (parse_number(args, n)) e.size_limit = n;
        } else if (kw == "AUTH" || kw.rfind("AUTH=", 0) == 0) { // RFC 4954; "AUTH=" is pre-RFC
            std::string_view rest = kw == "AUTH" ? args : std::string_view(line).substr(5);
            while (!rest.empty()) {
                std::size_t e2 = rest.find(' ');
                std::string m = upper(rest.substr(0, e2));
                if (!m.empty()) {
                    bool dup = false;
                    for (auto& x : e.auth_mechanisms) dup = dup || x == m;
                    if (!dup) e.auth_mechanisms.push_back(m);
                }
                if (e2 == std::string_view::npos) break;
                rest.remove_prefix(e2 + 1);
            }
        }
    }
    return e;
}

} // namespace

std::string xtext_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 33 || c > 126 || c == '+' || c == '=') {
            out += '+';
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
    return out;
}

const char* to_string(client_stage s) {
    switch (s) {
    case client_stage::greeting: return "greeting";
    case client_stage::helo: return "helo";
    case client_stage::starttls: return "starttls";
    case client_stage::auth: return "auth";
    case client_stage::precheck: return "precheck";
    case client_stage::mail: return "mail";
    case client_stage::rcpt: return "rcpt";
    case client_stage::data: return "data";
    case client_stage::data_end: return "data_end";
    case client_stage::not_attempted: return "not_attempted";
    }
    return "?";
}

std::chrono::seconds timeout_duration(client_timeout t) {
    using std::chrono::minutes;
    switch (t) {
    case client_timeout::none: return std::chrono::seconds(0);
    case client_timeout::initial: return minutes(5);   // RFC 5321 §4.5.3.2.1
    case client_timeout::command: return minutes(5);
    case client_timeout::mail: return minutes(5);      // §4.5.3.2.2
    case client_timeout::rcpt: return minutes(5);      // §4.5.3.2.3
    case client_timeout::data_init: return minutes(2); // §4.5.3.2.4
    case client_timeout::data_block: return minutes(3);// §4.5.3.2.5
    case client_timeout::data_term: return minutes(10);// §4.5.3.2.6
    }
    return std::chrono::seconds(0);
}

struct client_fsm::impl {
    // The reply each command sent is waiting for, in order (pipelining: several at once).
    enum class expect { greeting, ehlo, helo, starttls, auth, login_user, login_pass, rset, mail,
                        rcpt, data, data_end };

    struct active {
        transaction t;
        transaction_result res;
        std::vector<bool> decided;
        bool pipelined = false;
        bool mail_pending = false; // lock-step: MAIL goes out after the RSET reply
        bool mail_ok = false;
        std::size_t rcpt_next = 0; // index of the RCPT whose reply comes next
        std::size_t accepted = 0;
        bool sending_body = false;
        bool ignore_final = false; // "." sent only to end a DATA nobody should have accepted
        std::size_t body_pos = 0;
        dot_stuffer stuffer;
    };

    client_settings s_;
    reply_parser parser_;
    std::string in_;
    std::size_t pos_ = 0;
    std::deque<expect> expect_;
    std::deque<client_action> out_;
    std::deque<transaction> queue_;
    std::optional<active> tx_;
    bool no_more_ = false;
    bool closed_ = false;
    bool quit_sent_ = false;
    bool tls_wait_ = false;
    bool ready_ = false; // greeting, EHLO, STARTTLS, AUTH done: transactions may start
    bool need_rset_ = false;
    bool tls_active_ = false;
    bool authenticated_ = false;
    std::string tls_version_, tls_cipher_;
    server_extensions ext_;
    std::optional<remote_reply> greeting_, conn_error_;

    explicit impl(client_settings s)
        : s_(std::move(s)), parser_(s_.max_reply_line, s_.max_reply_lines),
          tls_active_(s_.tls_active) {
        expect_.push_back(expect::greeting);
    }

    // ---- output ------------------------------------------------------------------------
    // Consecutive sends merge into one action: a pipelined group is one write (RFC 2920 §3.1).
    void send(std::string_view line) {
        if (out_.empty() || out_.back().kind != client_action_kind::send ||
            !out_.back().borrowed.empty()) { // `out` goes before a borrowed body: never append
            client_action a;
            a.kind = client_action_kind::send;
            out_.push_back(std::move(a));
        }
        out_.back().out += line;
    }
    void command(std::string_view line, expect e) {
        send(line);
        send("\r\n");
        expect_.push_back(e);
    }
    void done(transaction_result r) {
        client_action a;
        a.kind = client_action_kind::transaction_done;
        a.result = std::move(r);
        out_.push_back(std::move(a));
    }
    void close() {
        client_action a;
        a.kind = client_action_kind::close;
        out_.push_back(std::move(a));
        closed_ = true;
        ready_ = false;
        tls_wait_ = false;
        expect_.clear();
    }

    // ---- transactions ------------------------------------------------------------------
    static transaction_result fresh_result(const transaction& t) {
        transaction_result r;
        r.id = t.id;
        for (const auto& rc : t.rcpts) {
            recipient_result rr;
            rr.address = rc.address;
            r.recipients.push_back(std::move(rr));
        }
        return r;
    }
    // Every recipient of a transaction that never started gets `r`.
    void fail_unstarted(const transaction& t, const remote_reply& r, client_stage st) {
        transaction_result res = fresh_result(t);
        for (auto& x : res.recipients) {
            x.reply = r;
            x.stage = st;
        }
        done(std::move(res));
    }
    void decide(std::size_t i, const remote_reply& r, client_stage st) {
        if (tx_->decided[i]) return;
        tx_->decided[i] = true;
        tx_->res.recipients[i].reply = r;
        tx_->res.recipients[i].stage = st;
    }
    void decide_all(const remote_reply& r, client_stage st) {
        for (std::size_t i = 0; i < tx_->decided.size(); ++i) decide(i, r, st);
    }
    // The transaction is over; `complete` = it ran to the reply after "." (no RSET needed,
    // RFC 5321 §4.1.1.4: the final reply ends the transaction either way).
    void finish_tx(bool complete) {
        done(std::move(tx_->res));
        tx_.reset();
        if (!complete) need_rset_ = true;
    }

    static client_stage stage_for(expect e) {
        switch (e) {
        case expect::greeting: return client_stage::greeting;
        case expect::ehlo:
        case expect::helo: return client_stage::helo;
        case expect::starttls: return client_stage::starttls;
        case expect::auth:
        case expect::login_user:
        case expect::login_pass: return client_stage::auth;
        case expect::rset:
        case expect::mail: return client_stage::mail;
        case expect::rcpt: return client_stage::rcpt;
        case expect::data: return client_stage::data;
        case expect::data_end: return client_stage::data_end;
        }
        return client_stage::not_attempted;
    }
    // The stage of what we are waiting for now.
    client_stage stage_now() const {
        if (tx_ && tx_->sending_body) return client_stage::data_end;
        if (expect_.empty()) return client_stage::not_attempted;
        return stage_for(expect_.front());
    }

    // The connection ends now: the transaction under way fails with `r` for every recipient
    // not yet decided (at `st`); queued ones get `r` at `queued` (not_attempted when the
    // failure is no verdict on them, e.g. a lost connection).
    void fail_connection(const remote_reply& r, client_stage st, client_stage queued,
                         bool quit) {
        conn_error_ = r;
        if (tx_) {
            decide_all(r, st);
            finish_tx(false);
        }
        while (!queue_.empty()) {
            fail_unstarted(queue_.front(), r, queued);
            queue_.pop_front();
        }
        if (quit) {
            send("QUIT\r\n"); // RFC 5321 §3.1 / §4.1.1.10; we do not wait for the 221
            quit_sent_ = true;
        }
        close();
    }
    void session_failure(const remote_reply& r, client_stage st, bool quit) {
        // Before any transaction: the verdict applies to every queued transaction.
        fail_connection(r, st, st, quit);
    }
    // The server broke the protocol: nothing it says can be trusted any more. Queued
    // transactions got no verdict: not_attempted.
    void protocol_error(const std::string& what, client_stage st) {
        auto r = remote_reply::synthetic(451, "4.4.0", "Protocol error from remote server: " + what);
        fail_connection(r, st, client_stage::not_attempted, false);
    }
    void lost(int code_detail, const char* what) {
        if (closed_) return;
        if (quit_sent_) { // the QUIT was our last word: nothing pending
            close();
            return;
        }
        client_stage st = stage_now();
        std::string text = std::string(what) + " (during " + to_string(st) + ")";
        auto r = remote_reply::synthetic(451, "4.4." + std::to_string(code_detail), text);
        if (!tx_ && expect_.empty() && ready_) {
            conn_error_ = r; // idle connection dropped: nobody's transaction fails
            while (!queue_.empty()) {
                fail_unstarted(queue_.front(), r, client_stage::not_attempted);
                queue_.pop_front();
            }
            close();
            return;
        }
        fail_connection(r, st, client_stage::not_attempted, false);
    }

    // ---- session setup ----------------------------------------------------------------
    void after_ehlo() {
        // RFC 3207 §4: STARTTLS only when offered; policy decides what its absence means.
        if (!tls_active_ && s_.tls != tls_policy::none && ext_.starttls) {
            command("STARTTLS", expect::starttls);
            return;
        }
        if (!tls_active_ && s_.tls == tls_policy::required) {
            session_failure(remote_reply::synthetic(
                                451, "4.7.4", "TLS is required, but was not offered by remote server"),
                            client_stage::starttls, true);
            return;
        }
        start_auth();
    }

    void start_auth() {
        if (!s_.auth || authenticated_ || ext_.auth_mechanisms.empty()) {
            // No credentials, or a server that offers no AUTH: go on unauthenticated; a relay
            // that wants AUTH refuses MAIL/RCPT, and that reply tells the admin why.
            ready_ = true;
            return;
        }
        if (!tls_active_) { // never send a password in the clear (RFC 4954 §4, §14)
            session_failure(remote_reply::synthetic(
                                454, "4.7.0", "Not sending credentials without TLS to remote server"),
                            client_stage::auth, true);
            return;
        }
        auto has = [&](std::string_view m) {
            for (auto& x : ext_.auth_mechanisms)
                if (x == m) return true;
            return false;
        };
        if (has("PLAIN")) { // RFC 4616: authzid NUL authcid NUL passwd; initial response
            std::string msg;
            msg += '\0';
            msg += s_.auth->username;
            msg += '\0';
            msg += s_.auth->password;
            command("AUTH PLAIN " + base64_encode(msg), expect::auth);
        } else if (has("LOGIN")) {
            command("AUTH LOGIN", expect::login_user);
        } else {
            session_failure(remote_reply::synthetic(
                                454, "4.7.0", "No supported AUTH mechanism (PLAIN, LOGIN) offered by remote server"),
                            client_stage::auth, true);
        }
    }

    void auth_failed(const remote_reply& rr) {
        // A refused login is the relay's configuration, not the recipients' fault: defer
        // (temporary), quoting what the server said.
        session_failure(remote_reply::synthetic(454, "4.7.0",
                                                "SASL authentication failed; remote said: " +
                                                    rr.one_line()),
                        client_stage::auth, true);
    }

    // ---- transactions ------------------------------------------------------------------
    std::string mail_command(const transaction& t) const {
        std::string c = "MAIL FROM:<" + t.mail_from + ">";
        if (ext_.size) c += " SIZE=" + std::to_string(t.body ? t.body->size() : 0); // RFC 1870
        if (t.eight_bit && ext_.eight_bit_mime) c += " BODY=8BITMIME";             // RFC 6152
        if (t.needs_smtputf8) c += " SMTPUTF8";                                    // RFC 6531 §3.4
        if (ext_.dsn) { // RFC 3461 §4.3, §4.4: only to a server that offers DSN
            if (!t.dsn_ret.empty()) c += " RET=" + t.dsn_ret;
            if (!t.dsn_envid.empty()) c += " ENVID=" + xtext_encode(t.dsn_envid);
        }
        return c;
    }
    std::string rcpt_command(const client_recipient& r) const {
        std::string c = "RCPT TO:<" + r.address + ">";
        if (ext_.dsn) { // RFC 3461 §4.1, §4.2
            if (!r.notify.empty()) c += " NOTIFY=" + r.notify;
            if (!r.orcpt.empty()) c += " ORCPT=rfc822;" + xtext_encode(r.orcpt);
        }
        return c;
    }

    void start_tx() {
        transaction t = std::move(queue_.front());
        queue_.pop_front();
        // Checks that need no round trip: the verdict is certain, so it is permanent.
        std::optional<remote_reply> refuse;
        if (t.needs_smtputf8 && !ext_.smtputf8) // RFC 6531 §3.2: no downgrade here
            refuse = remote_reply::synthetic(
                550, "5.6.7",
                "Message needs SMTPUTF8, but the remote server does not support SMTPUTF8 (RFC 6531)");
        else if (t.eight_bit && !ext_.eight_bit_mime && s_.refuse_8bit_without_8bitmime)
            refuse = remote_reply::synthetic(
                554, "5.6.3",
                "Message has 8-bit content, but the remote server does not support 8BITMIME (RFC 6152)");
        else if (ext_.size && ext_.size_limit != 0 && t.body && t.body->size() > ext_.size_limit)
            refuse = remote_reply::synthetic(
                552, "5.3.4",
                "Message size " + std::to_string(t.body->size()) +
                    " exceeds the remote server's size limit of " +
                    std::to_string(ext_.size_limit) + " (RFC 1870)");
        if (refuse || t.rcpts.empty()) {
            fail_unstarted(t, refuse.value_or(remote_reply{}), client_stage::precheck);
            return;
        }
        tx_.emplace(active{}); // clang: a nested struct with NSDMIs is not default-constructible here
        tx_->res = fresh_result(t);
        tx_->decided.assign(t.rcpts.size(), false);
        tx_->t = std::move(t);
        if (!tx_->t.body) tx_->t.body = std::make_shared<const std::string>();
        tx_->pipelined = ext_.pipelining;
        if (need_rset_) { // RFC 5321 §4.1.1.5: clear the failed transaction first
            need_rset_ = false;
            command("RSET", expect::rset);
            if (!tx_->pipelined) {
                tx_->mail_pending = true;
                return;
            }
        }
        send_mail();
    }

    void send_mail() {
        tx_->mail_pending = false;
        command(mail_command(tx_->t), expect::mail);
        if (!tx_->pipelined) return;
        // RFC 2920 §3.1: MAIL, every RCPT and DATA in one group; DATA ends the group.
        for (const auto& r : tx_->t.rcpts) command(rcpt_command(r), expect::rcpt);
        command("DATA", expect::data);
    }

    // Lock-step: after MAIL or a RCPT reply, the next command.
    void lockstep_next() {
        if (tx_->rcpt_next < tx_->t.rcpts.size()) {
            command(rcpt_command(tx_->t.rcpts[tx_->rcpt_next]), expect::rcpt);
        } else if (tx_->accepted > 0) {
            command("DATA", expect::data);
        } else {
            finish_tx(false); // every recipient refused: no DATA (RSET before the next MAIL)
        }
    }

    void emit_body_chunk() {
        const std::string& body = *tx_->t.body;
        if (tx_->t.body_dot_free && tx_->body_pos == 0 &&
            (body.empty() || (body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0))) {
            client_action a;
            a.kind = client_action_kind::send;
            a.borrowed = body;
            a.after = ".\r\n";
            tx_->body_pos = body.size();
            tx_->sending_body = false;
            expect_.push_back(expect::data_end);
            out_.push_back(std::move(a));
            return;
        }
        std::size_t n = std::min(s_.body_chunk, body.size() - tx_->body_pos);
        std::string out;
        tx_->stuffer.append(std::string_view(body).substr(tx_->body_pos, n), out);
        tx_->body_pos += n;
        if (tx_->body_pos == body.size()) {
            tx_->stuffer.finish(out);
            tx_->sending_body = false;
            expect_.push_back(expect::data_end);
        }
        client_action a;
        a.kind = client_action_kind::send;
        a.out = std::move(out);
        out_.push_back(std::move(a));
    }

    // ---- replies -----------------------------------------------------------------------
    void on_reply(expect e, remote_reply rr);
};

void client_fsm::impl::on_reply(expect e, remote_reply rr) {
    const int code = rr.r.code;
    const int cls = code / 100;
    auto proto_error = [&](const std::string& what) { this->protocol_error(what, stage_for(e)); };
    // RFC 5321 §3.8: 421 at any point means the server is closing the channel; the reply
    // decides everything still open (temporary: retried later).
    if (code == 421) {
        if (e == expect::greeting) greeting_ = rr;
        client_stage st = stage_for(e);
        fail_connection(rr, st, ready_ ? client_stage::not_attempted : st, false);
        return;
    }
    switch (e) {
    case expect::greeting:
        greeting_ = rr;
        if (cls == 2) {
            command("EHLO " + s_.helo_name, expect::ehlo);
        } else if (cls == 4 || cls == 5) { // RFC 5321 §3.1: 554 greeting → QUIT
            session_failure(rr, client_stage::greeting, true);
        } else {
            proto_error("unexpected greeting " + rr.one_line());
        }
        return;
    case expect::ehlo:
        if (cls == 2) {
            ext_ = parse_ehlo(rr.r);
            after_ehlo();
        } else if (cls == 5) { // RFC 5321 §3.2: an old server; say HELO
            command("HELO " + s_.helo_name, expect::helo);
        } else if (cls == 4) {
            session_failure(rr, client_stage::helo, true);
        } else {
            proto_error("unexpected EHLO reply " + rr.one_line());
        }
        return;
    case expect::helo:
        if (cls == 2) {
            ext_ = server_extensions{};
            after_ehlo();
        } else if (cls == 4 || cls == 5) {
            session_failure(rr, client_stage::helo, true);
        } else {
            proto_error("unexpected HELO reply " + rr.one_line());
        }
        return;
    case expect::starttls:
        if (code == 220) {
            // RFC 3207 §4.2 (and CVE-2011-1431): anything the server sent after the 220 and
            // before the handshake is plaintext that must not be read as a TLS-time reply.
            in_.clear();
            pos_ = 0;
            parser_.reset();
            tls_wait_ = true;
            client_action a;
            a.kind = client_action_kind::start_tls;
            out_.push_back(std::move(a));
        } else if (cls == 3 || cls == 2) {
            proto_error("unexpected STARTTLS reply " + rr.one_line());
        } else if (s_.tls == tls_policy::required) {
            session_failure(remote_reply::synthetic(
                                451, "4.7.4",
                                "TLS is required, but STARTTLS was refused by remote server: " +
                                    rr.one_line()),
                            client_stage::starttls, true);
        } else {
            start_auth(); // opportunistic: go on in plaintext (RFC 3207 §4.1)
        }
        return;
    case expect::auth:
        if (code == 235) {
            authenticated_ = true;
            ready_ = true;
        } else if (cls == 2 || cls == 3) {
            proto_error("unexpected AUTH reply " + rr.one_line());
        } else {
            auth_failed(rr);
        }
        return;
    case expect::login_user:
    case expect::login_pass:
        if (code == 334) {
            bool user = e == expect::login_user;
            command(base64_encode(user ? s_.auth->username : s_.auth->password),
                    user ? expect::login_pass : expect::auth);
        } else if (cls == 2 || cls == 3) {
            proto_error("unexpected AUTH LOGIN reply " + rr.one_line());
        } else {
            auth_failed(rr);
        }
        return;
    case expect::rset:
        // A refused RSET is odd but harmless: the MAIL that follows gets its own reply.
        if (cls == 3) return proto_error("unexpected RSET reply " + rr.one_line());
        if (tx_ && tx_->mail_pending) send_mail();
        return;
    case expect::mail:
        if (!tx_) return proto_error("reply without a command: " + rr.one_line());
        tx_->res.mail_reply = rr;
        if (cls == 2) {
            tx_->mail_ok = true;
            if (!tx_->pipelined) lockstep_next();
        } else if (cls == 4 || cls == 5) {
            decide_all(rr, client_stage::mail); // the RCPT replies that follow say only 503
            if (!tx_->pipelined) finish_tx(false);
        } else {
            proto_error("unexpected MAIL reply " + rr.one_line());
        }
        return;
    case expect::rcpt: {
        if (!tx_) return proto_error("reply without a command: " + rr.one_line());
        if (cls == 3) return proto_error("unexpected RCPT reply " + rr.one_line());
        std::size_t i = tx_->rcpt_next++;
        if (tx_->mail_ok && i < tx_->decided.size()) {
            if (cls == 2) ++tx_->accepted; // outcome decided by the final reply
            else decide(i, rr, client_stage::rcpt);
        }
        if (!tx_->pipelined) lockstep_next();
        return;
    }
    case expect::data:
        if (!tx_) return proto_error("reply without a command: " + rr.one_line());
        if (code == 354) {
            if (tx_->mail_ok && tx_->accepted > 0) {
                tx_->sending_body = true; // next() emits the body in chunks
            } else {
                // RFC 2920 §3.1: a server must not 354 without recipients; if it does, end the
                // message at once with an empty body and ignore the reply.
                tx_->ignore_final = true;
                send(".\r\n");
                expect_.push_back(expect::data_end);
            }
        } else if (cls == 4 || cls == 5) {
            for (std::size_t i = 0; i < tx_->decided.size(); ++i)
                decide(i, rr, client_stage::data);
            finish_tx(false);
        } else {
            proto_error("unexpected DATA reply " + rr.one_line());
        }
        return;
    case expect::data_end:
        if (!tx_) return proto_error("reply without a command: " + rr.one_line());
        if (cls == 3) return proto_error("unexpected reply after end of data " + rr.one_line());
        if (!tx_->ignore_final) {
            tx_->res.final_reply = rr;
            decide_all(rr, client_stage::data_end); // RFC 5321 §4.2.5: one reply for all
        }
        finish_tx(true);
        return;
    }
}

// ---- public -------------------------------------------------------------------------------

client_fsm::client_fsm(client_settings s) : p_(std::make_unique<impl>(std::move(s))) {}
client_fsm::~client_fsm() = default;

void client_fsm::add_transaction(transaction t) {
    if (p_->closed_) { // too late: hand it straight back, untouched
        auto r = p_->conn_error_.value_or(
            remote_reply::synthetic(451, "4.4.2", "Connection already closed"));
        p_->fail_unstarted(t, r, client_stage::not_attempted);
        return;
    }
    p_->queue_.push_back(std::move(t));
}

void client_fsm::no_more_transactions() { p_->no_more_ = true; }

void client_fsm::feed(std::string_view bytes) {
    // Closed: nothing more is read. Waiting for the handshake: plaintext injected before TLS
    // is dropped (RFC 3207 §4.2).
    if (p_->closed_ || p_->tls_wait_) return;
    p_->in_.append(bytes);
}

client_action client_fsm::next() {
    impl& m = *p_;
    while (true) {
        if (!m.out_.empty()) {
            client_action a = std::move(m.out_.front());
            m.out_.pop_front();
            return a;
        }
        if (m.closed_) {
            client_action a;
            a.kind = client_action_kind::close;
            return a;
        }
        if (m.tls_wait_) throw std::logic_error("client_fsm: next() before tls_started()");
        if (m.tx_ && m.tx_->sending_body) {
            m.emit_body_chunk();
            continue;
        }
        if (!m.expect_.empty()) {
            auto res = m.parser_.take(m.in_, m.pos_);
            if (m.pos_ == m.in_.size()) {
                m.in_.clear();
                m.pos_ = 0;
            }
            if (res.st == reply_parser::status::complete) {
                impl::expect e = m.expect_.front();
                m.expect_.pop_front();
                m.on_reply(e, std::move(res.reply));
                continue;
            }
            if (res.st == reply_parser::status::error) {
                m.protocol_error(res.error, m.stage_now());
                continue;
            }
            client_action a;
            a.kind = client_action_kind::need_input;
            return a;
        }
        if (m.tx_) throw std::logic_error("client_fsm: transaction stalled"); // a bug here
        if (!m.ready_) throw std::logic_error("client_fsm: session stalled");
        if (!m.queue_.empty()) {
            m.start_tx();
            continue;
        }
        if (m.no_more_) {
            m.send("QUIT\r\n"); // no wait for the 221 (as Postfix's smtp_skip_quit_response)
            m.quit_sent_ = true;
            m.close();
            continue;
        }
        client_action a;
        a.kind = client_action_kind::idle;
        return a;
    }
}

void client_fsm::tls_started(std::string version, std::string cipher) {
    impl& m = *p_;
    if (!m.tls_wait_) throw std::logic_error("client_fsm: tls_started() without start_tls");
    m.tls_wait_ = false;
    m.tls_active_ = true;
    m.tls_version_ = std::move(version);
    m.tls_cipher_ = std::move(cipher);
    m.in_.clear();
    m.pos_ = 0;
    m.parser_.reset();
    m.ext_ = server_extensions{}; // RFC 3207 §4.2: forget what was learnt in plaintext
    m.command("EHLO " + m.s_.helo_name, impl::expect::ehlo);
}

void client_fsm::tls_failed(std::string_view why) {
    impl& m = *p_;
    if (m.closed_) return;
    m.tls_wait_ = false;
    // After a failed handshake the byte stream is in an unknown state: close whatever the
    // policy. With an opportunistic policy the driver may reconnect with tls_policy::none.
    m.session_failure(remote_reply::synthetic(451, "4.7.5",
                                              "TLS handshake failed: " + std::string(why)),
                      client_stage::starttls, false);
}

void client_fsm::eof() { p_->lost(2, "Connection lost with remote server"); }
void client_fsm::timed_out() { p_->lost(1, "Timed out waiting for remote server"); }

client_timeout client_fsm::current_timeout() const {
    const impl& m = *p_;
    if (m.closed_ || m.tls_wait_) return client_timeout::none;
    if (m.tx_ && m.tx_->sending_body) return client_timeout::data_block;
    if (m.expect_.empty()) return client_timeout::none;
    switch (m.expect_.front()) {
    case impl::expect::greeting: return client_timeout::initial;
    case impl::expect::mail: return client_timeout::mail;
    case impl::expect::rcpt: return client_timeout::rcpt;
    case impl::expect::data: return client_timeout::data_init;
    case impl::expect::data_end: return client_timeout::data_term;
    default: return client_timeout::command;
    }
}

bool client_fsm::tls_active() const { return p_->tls_active_; }
const std::string& client_fsm::tls_version() const { return p_->tls_version_; }
const std::string& client_fsm::tls_cipher() const { return p_->tls_cipher_; }
const server_extensions& client_fsm::extensions() const { return p_->ext_; }
const std::optional<remote_reply>& client_fsm::greeting() const { return p_->greeting_; }
const std::optional<remote_reply>& client_fsm::connection_error() const {
    return p_->conn_error_;
}
bool client_fsm::authenticated() const { return p_->authenticated_; }

} // namespace cartero::smtp
