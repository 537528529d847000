// daemon/inbound/session.cpp — the session coroutine: reads bytes, runs the fsm, asks policy,
// hands complete messages to the queue and answers 250 only after the group commit.
#include "daemon/inbound/session.hpp"

#include "core/log.hpp"
#include "core/address_norm.hpp"
#include "core/password.hpp"
#include "daemon/inbound/async_enqueue.hpp"
#include "daemon/mailauth/message_auth.hpp"
#include "daemon/inbound/bounce_intake.hpp"
#include "daemon/mime/received_header.hpp"
#include "daemon/policy/sender_policy.hpp"
#include "daemon/policy/spam_filter.hpp"
#include "daemon/smtp/server_fsm.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <ctime>

namespace cartero::inbound {

using net::use_awaitable;
using tcp = net::ip::tcp;
constexpr auto nothrow = net::as_tuple(use_awaitable);

session::session(tcp::socket sock, policy::listener_kind kind, shared_state& st, std::string id)
    : sock_(std::move(sock)), deadline_(sock_.get_executor()), st_(st),
      id_(std::move(id)) {
    facts_.kind = kind;
}

session::~session() = default;

void session::arm(std::chrono::seconds timeout) {
    const auto gen = ++deadline_gen_;
    deadline_.expires_after(timeout);
    deadline_.async_wait([this, gen](boost::system::error_code ec) {
        // A stale expiry (the operation already finished) must not cancel the next one.
        if (ec || gen != deadline_gen_) return;
        timed_out_ = true;
        boost::system::error_code ignored;
        sock_.cancel(ignored);
    });
}

void session::disarm() {
    ++deadline_gen_;
    deadline_.cancel();
}

void session::request_stop() {
    stop_requested_ = true;
    if (reading_) {
        boost::system::error_code ignored;
        sock_.cancel(ignored);
    }
}

bool session::checks_mail() const {
    return facts_.kind == policy::listener_kind::smtp && !facts_.trusted_network &&
           !facts_.auth_user && st_.dns;
}

std::string session::received_field(const smtp::envelope& env, const std::string& by_host,
                                    const std::string& queue_id, std::int64_t when) const {
    mime::received_info ri;
    ri.helo = env.helo;
    ri.client_ip = facts_.client_ip;
    ri.by_host = by_host;
    ri.tls = tls_;
    ri.authenticated = facts_.auth_user.has_value();
    ri.tls_version = tls_version_;
    ri.tls_cipher = tls_cipher_;
    ri.queue_id = queue_id;
    if (env.recipients.size() == 1) ri.single_recipient = env.recipients[0].address();
    ri.when = when;
    return mime::received_header(ri);
}

net::awaitable<bool> session::read_more(std::string_view& got, std::chrono::seconds timeout,
                                        bool large) {
    // Commands arrive in small reads; a message body in reads of up to 64 KiB (a 100 KB body
    // in two wake-ups instead of thirteen), into a buffer made at the session's first DATA.
    // `got` points into a member buffer, valid until the next read: the state machine copies
    // what it keeps (no intermediate string).
    net::mutable_buffer buf(small_buf_, sizeof small_buf_);
    if (large) {
        if (!data_buf_) data_buf_.reset(new char[data_buf_size]);
        buf = net::mutable_buffer(data_buf_.get(), data_buf_size);
    }
    arm(timeout);
    reading_ = true;
    std::size_t n = 0;
    boost::system::error_code ec;
    if (tls_)
        std::tie(ec, n) = co_await tls_stream_->async_read_some(buf, nothrow);
    else
        std::tie(ec, n) = co_await sock_.async_read_some(buf, nothrow);
    reading_ = false;
    disarm();
    got = std::string_view(static_cast<const char*>(buf.data()), n);
    co_return !ec || n > 0;
}

net::awaitable<bool> session::flush(std::string& out) {
    if (out.empty()) co_return true;
    arm(st_.settings->timeout_command);
    boost::system::error_code ec;
    if (tls_)
        std::tie(ec, std::ignore) =
            co_await net::async_write(*tls_stream_, net::buffer(out), nothrow);
    else
        std::tie(ec, std::ignore) =
            co_await net::async_write(sock_, net::buffer(out), nothrow);
    disarm();
    out.clear();
    co_return !ec;
}

net::awaitable<bool> session::handshake() {
    tls_stream_ = std::make_unique<net::ssl::stream<tcp::socket&>>(sock_, *st_.stream_tls);
    arm(st_.settings->timeout_tls_handshake);
    auto [ec] = co_await tls_stream_->async_handshake(net::ssl::stream_base::server, nothrow);
    disarm();
    if (ec) {
        log::info("tls_failed", {{"session", id_}, {"ip", facts_.client_ip},
                                 {"reason", ec.message()}});
        co_return false;
    }
    tls_ = true;
    tls_version_ = SSL_get_version(tls_stream_->native_handle());
    tls_cipher_ = SSL_get_cipher_name(tls_stream_->native_handle());
    log::info("tls", {{"session", id_}, {"version", tls_version_}, {"cipher", tls_cipher_}});
    co_return true;
}

namespace {

smtp::server_settings fsm_settings(const inbound_settings& s, policy::listener_kind kind,
                                   bool have_tls) {
    smtp::server_settings f;
    f.hostname = s.hostname;
    f.max_command_line = s.max_command_line;
    f.max_text_line = s.max_text_line;
    f.max_recipients = s.max_recipients;
    f.max_message_size = s.max_message_size;
    f.max_bad_commands = s.max_bad_commands;
    f.tls_available = have_tls;
    f.tls_active = kind == policy::listener_kind::smtps;
    f.auth_available = true;
    f.auth_required = kind != policy::listener_kind::smtp;
    return f;
}

// Runs on the blocking pool: yescrypt costs milliseconds. A plain function, not a capturing
// lambda: GCC 12 destroys a coroutine lambda's captures while its frame still uses them.
// SPF, DKIM and DMARC for one message; blocking DNS, so on the pool (a plain function, not a
// capturing lambda: GCC 12 and coroutines).
net::awaitable<mailauth::message_auth_result> auth_on_pool(dns::resolver* r,
                                                           const std::string* message,
                                                           mailauth::message_auth_request rq) {
    co_return mailauth::authenticate_message(*r, *message, rq);
}

// Spam scoring for one message (DNS probes, rules over the text): blocking, so on the pool.
net::awaitable<policy::spam_decision> spam_on_pool(std::shared_ptr<const config::snapshot> cfg,
                                                   dns::resolver* r, const std::string* message,
                                                   policy::spam_request rq,
                                                   std::vector<queue::recipient> targets) {
    co_return policy::run_spam_filter(*cfg, r, *message, rq, targets);
}

net::awaitable<bool> verify_on_pool(std::string password, std::string hash) {
    // Hash even for unknown users so timing does not reveal which accounts exist.
    static const std::string dummy = password::hash_password("cartero-dummy");
    const bool known = !hash.empty();
    const bool match = password::verify_password(password, known ? hash : dummy);
    co_return known && match;
}

// Same mailbox reached twice (two RCPTs, or a forwarder and a direct RCPT): deliver once.
void add_targets(std::vector<queue::recipient>& into, std::vector<queue::recipient>&& more) {
    for (auto& t : more) {
        bool dup = false;
        for (const auto& have : into)
            if (have.kind == t.kind && have.deliver_to == t.deliver_to) dup = true;
        if (!dup) into.push_back(std::move(t));
    }
}

// Flow 4: a report sent to VERP addresses (bounces+TOKEN@local-domain). Parsed here (CPU only),
// recorded on the queue's writer thread (never SQLite in the session), then forwarded as-is
// (null sender) to the original envelope sender when that is a local mailbox; other senders
// only get a log line. false: nothing could be recorded (SQLite failure, queue stopped) and the
// caller answers 451 so the reporting MTA tries again. A plain function, not a lambda (GCC 12).
net::awaitable<bool> take_async_bounces(shared_state& st, std::string session_id,
                                        std::vector<bounce::verp_ref> refs, std::string rcpt_to,
                                        std::shared_ptr<const std::string> body) {
    bounce::bounce_parse_options opt;
    opt.envelope_recipient = rcpt_to;
    auto report = std::make_shared<const bounce::parsed_bounce>(bounce::parse_bounce(*body, opt));
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    std::vector<std::string> forwarded_to;
    for (const auto& ref : refs) {
        intake_result r =
            co_await async_record_bounce(*st.store, ref, report, now, net::use_awaitable);
        if (!r.error.empty()) {
            log::error("async_bounce_failed",
                       {{"session", session_id}, {"queue_id", ref.queue_id}, {"error", r.error}});
            co_return false;
        }
        log::info(r.recorded ? "async_bounce" : "async_bounce_ignored",
                  {{"session", session_id}, {"queue_id", ref.queue_id},
                   {"to", r.recipient}, {"sender", r.sender},
                   {"action", r.action.empty() ? std::string("none") : r.action},
                   {"class", r.bounce_class}, {"hard", r.hard ? "yes" : "no"},
                   {"suppressed", r.suppressed ? "yes" : "no"},
                   {"linked", r.linked ? "yes" : "no"},
                   {"report", report->is_dsn ? "dsn" : report->is_bounce ? "plain" : "none"}});
        if (!r.recorded || r.sender.empty()) continue;
        const std::string sender = r.sender;
        bool done = false;
        for (const auto& f : forwarded_to) done = done || f == sender;
        if (done) continue;
        forwarded_to.push_back(sender);
        // The original sender as carterod's own mail is routed: only a local mailbox gets it.
        auto at = sender.rfind('@');
        std::vector<queue::recipient> targets;
        if (at != std::string::npos) {
            smtp::path p;
            p.local = sender.substr(0, at);
            p.domain = sender.substr(at + 1);
            p.raw = sender;
            policy::session_facts facts;
            facts.client_ip = "127.0.0.1";
            facts.trusted_network = true;
            auto res = st.resolver->resolve(*st.config, facts, p, std::nullopt);
            if (res.answer.positive()) targets = std::move(res.targets);
        }
        bool local = !targets.empty();
        for (const auto& t : targets) local = local && t.kind == queue::rcpt_kind::local;
        if (!local) {
            log::info("async_bounce_not_forwarded", {{"session", session_id},
                                                     {"queue_id", ref.queue_id},
                                                     {"sender", sender},
                                                     {"reason", "sender is no local mailbox"}});
            continue;
        }
        queue::message fwd;
        fwd.id = queue::new_queue_id();
        fwd.mail_from = ""; // a bounce report stays a bounce (RFC 5321 §4.5.5)
        fwd.helo = st.settings->hostname;
        fwd.client_ip = "127.0.0.1";
        fwd.received_at = now;
        fwd.body = *body;
        fwd.rcpts = std::move(targets);
        const std::string fwd_id = fwd.id;
        auto err = co_await async_enqueue(*st.store, std::move(fwd), net::use_awaitable);
        if (err)
            log::error("async_bounce_forward_failed",
                       {{"session", session_id}, {"queue_id", ref.queue_id}, {"error", *err}});
        else
            log::info("async_bounce_forwarded", {{"session", session_id},
                                                 {"queue_id", ref.queue_id},
                                                 {"forward_queue_id", fwd_id},
                                                 {"to", sender}});
    }
    co_return true;
}

} // namespace

net::awaitable<void> session::run() {
    auto self = shared_from_this();
    auto settings = st_.settings; // this session keeps the settings it started with
    boost::system::error_code ec;
    auto remote = sock_.remote_endpoint(ec);
    if (ec) co_return;
    auto addr = remote.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
        addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
    facts_.client_ip = addr.to_string();
    facts_.trusted_network = settings->trusted_networks.contains(facts_.client_ip);
    const std::string kind_name(config::to_string(facts_.kind));

    std::string out;
    if (!st_.limiter.try_acquire(facts_.client_ip)) {
        log::warn("connection_refused",
                  {{"session", id_}, {"ip", facts_.client_ip}, {"reason", "too many connections"}});
        if (facts_.kind == policy::listener_kind::smtps && st_.tls && !(co_await handshake()))
            co_return;
        out = reply(421, "4.7.0", settings->hostname + " Too many connections, try again later")
                  .wire();
        co_await flush(out);
        co_return;
    }
    struct release_guard {
        shared_state& st;
        std::string ip;
        ~release_guard() { st.limiter.release(ip); }
    } guard{st_, facts_.client_ip};

    log::info("connect", {{"session", id_}, {"ip", facts_.client_ip}, {"listener", kind_name},
                          {"trusted", facts_.trusted_network ? "yes" : "no"}});
    if (facts_.kind == policy::listener_kind::smtps) {
        if (!st_.tls || !(co_await handshake())) co_return;
    }

    std::string queue_id;
    auto fsm_config = fsm_settings(*settings, facts_.kind, st_.tls != nullptr);
    // Unchecked mail keeps its octets as received: the reader stores them right behind our
    // Received field, so delivering needs no copy of the body (checked mail gets its fields
    // after the checks, below).
    fsm_config.message_prefix = [this, &queue_id, &settings](const smtp::envelope& env) {
        if (checks_mail() || queue_id.empty()) return std::string();
        return received_field(env, settings->hostname, queue_id,
                              static_cast<std::int64_t>(std::time(nullptr)));
    };
    smtp::server_fsm fsm(std::move(fsm_config));
    std::string_view in;
    std::vector<queue::recipient> targets;
    std::vector<bounce::verp_ref> verp_refs; // RCPTs to VERP return paths (flow 4)
    std::string verp_rcpt;                   // the first of them, as written
    std::optional<std::uint64_t> declared_size;
    std::string mail_from; // the transaction's sender, for the greylisting triplet
    std::size_t messages = 0;
    const char* end_reason = "quit";

    for (bool running = true; running;) {
        auto a = fsm.next();
        switch (a.kind) {
        case smtp::action_kind::send:
            out += a.out;
            if (out.size() > 16384 && !(co_await flush(out))) {
                end_reason = "write failed";
                running = false;
            }
            break;
        case smtp::action_kind::need_input: {
            if (!(co_await flush(out))) {
                end_reason = "write failed";
                running = false;
                break;
            }
            if (stop_requested_) {
                fsm.shutdown(reply(421, "4.3.2", settings->hostname + " Service shutting down"));
                end_reason = "shutdown";
                break;
            }
            in = {};
            const auto timeout =
                fsm.receiving_message() ? settings->timeout_data : settings->timeout_command;
            if (co_await read_more(in, timeout, fsm.receiving_message())) {
                fsm.feed(in);
            } else if (timed_out_) {
                fsm.shutdown(reply(421, "4.4.2", settings->hostname + " Timeout, closing"));
                end_reason = "timeout";
            } else if (stop_requested_) {
                fsm.shutdown(reply(421, "4.3.2", settings->hostname + " Service shutting down"));
                end_reason = "shutdown";
            } else {
                fsm.eof();
                end_reason = "peer closed";
            }
            break;
        }
        case smtp::action_kind::check_helo:
            fsm.helo_result(reply(250, "", settings->hostname));
            break;
        case smtp::action_kind::check_sender: {
            targets.clear();
            verp_refs.clear();
            verp_rcpt.clear();
            // The queue id names the transaction from MAIL on, so every log line about this
            // message carries it (as Postfix does); an aborted transaction just skips an id.
            queue_id = queue::new_queue_id();
            declared_size.reset(); // SIZE= from MAIL (RFC 1870), for the quota check at RCPT
            for (const auto& p : a.params)
                if (p.keyword == "SIZE") declared_size = std::strtoull(p.value.c_str(), nullptr, 10);
            mail_from = a.addr.null_path ? std::string() : a.addr.address();
            auto r = policy::check_sender(*st_.config, facts_, a.addr);
            log::info("mail_from", {{"session", id_}, {"queue_id", queue_id},
                                    {"from", a.addr.address()},
                                    {"result", r.summary()}});
            fsm.sender_result(r);
            break;
        }
        case smtp::action_kind::check_recipient: {
            auto res = st_.resolver->resolve(*st_.config, facts_, a.addr, declared_size);
            if (res.answer.positive() && !st_.suppressed->empty()) {
                for (const auto& t : res.targets)
                    if (t.kind == queue::rcpt_kind::remote && st_.suppressed->count(t.deliver_to)) {
                        res.answer = reply(550, "5.1.1",
                                           "Recipient <" + t.deliver_to +
                                               "> is suppressed: an earlier message hard-bounced "
                                               "(invalid recipient); an administrator can remove "
                                               "it from the suppression list");
                        res.targets.clear();
                        break;
                    }
            }
            // Greylisting (RFC 6647): port 25 strangers only, after the recipient is known.
            if (res.answer.positive() && st_.greylist && !facts_.may_relay() &&
                facts_.kind == policy::listener_kind::smtp)
                if (auto g = st_.greylist->check(facts_.client_ip, mail_from, a.addr.address())) {
                    res.answer = std::move(*g);
                    res.targets.clear();
                    res.verp.reset();
                }
            log::info("rcpt_to", {{"session", id_}, {"queue_id", queue_id},
                                  {"to", a.addr.address()},
                                  {"result", res.answer.summary()}});
            if (res.answer.positive()) {
                for (auto& t : res.targets) { // RFC 3461: kept per recipient for the DSNs
                    t.notify = a.notify;
                    t.orcpt = a.orcpt;
                }
                add_targets(targets, std::move(res.targets));
                if (res.verp) {
                    if (verp_refs.empty()) verp_rcpt = a.addr.address();
                    if (std::find(verp_refs.begin(), verp_refs.end(), *res.verp) == verp_refs.end())
                        verp_refs.push_back(*res.verp);
                }
            }
            fsm.recipient_result(res.answer);
            break;
        }
        case smtp::action_kind::authenticate: {
            auto& throttle = st_.auth_throttle;
            if (throttle.refused(facts_.client_ip)) {
                log::warn("auth_refused", {{"session", id_}, {"ip", facts_.client_ip},
                                           {"user", a.username},
                                           {"reason", "too many failures"}});
                // Refused outright: say why and end the session (the client retrying on the same
                // connection would only be refused again).
                fsm.shutdown(reply(421, "4.7.0",
                                   "Too many authentication failures from your address, "
                                   "try again later"));
                end_reason = "auth refused";
                break;
            }
            if (auto d = throttle.delay(facts_.client_ip); d.count() > 0) {
                net::steady_timer t(sock_.get_executor(), d);
                co_await t.async_wait(nothrow);
            }
            auto user = names::normalize_address(a.username);
            std::string hash;
            if (user.ok) {
                auto cfg = st_.config;
                if (auto mb = cfg->mailboxes.find(user.value);
                    mb != cfg->mailboxes.end() && mb->second.enabled)
                    hash = mb->second.password_hash;
            }
            bool ok = co_await net::co_spawn(
                *st_.blocking_pool, verify_on_pool(std::move(a.password), std::move(hash)),
                use_awaitable);
            if (ok) {
                facts_.auth_user = user.value;
                log::info("auth", {{"session", id_}, {"ip", facts_.client_ip},
                                   {"user", user.value}, {"mechanism", a.mechanism},
                                   {"result", "ok"}});
            } else {
                throttle.record_failure(facts_.client_ip);
                log::warn("auth", {{"session", id_}, {"ip", facts_.client_ip},
                                   {"user", a.username}, {"mechanism", a.mechanism},
                                   {"result", "failed"}});
            }
            fsm.auth_result(ok, ok ? user.value : std::string());
            break;
        }
        case smtp::action_kind::start_tls:
            if (!(co_await flush(out)) || !st_.tls || !(co_await handshake())) {
                end_reason = "tls failed";
                running = false;
                break;
            }
            facts_.auth_user.reset();
            fsm.tls_started();
            break;
        case smtp::action_kind::deliver: {
            const auto& env = *a.env;
            queue::message m;
            m.id = queue_id.empty() ? queue::new_queue_id() : queue_id;
            queue_id.clear(); // a second message in this session gets its own id at MAIL
            m.mail_from = env.mail_from.null_path ? std::string() : env.mail_from.address();
            m.helo = env.helo;
            m.client_ip = facts_.client_ip;
            m.auth_user = facts_.auth_user.value_or("");
            m.envid = env.dsn_envid;
            m.dsn_ret = env.dsn_ret;
            m.received_at = static_cast<std::int64_t>(std::time(nullptr));
            // With a prefix the reader already stored our Received field in front.
            std::string header =
                a.message_prefix ? std::string()
                                 : received_field(env, settings->hostname, m.id, m.received_at);
            // Issue 4: mail from the internet (port 25, not trusted, not authenticated) gets
            // SPF, DKIM and DMARC on the blocking pool; the verdict goes right under our Received
            // as Authentication-Results, after forged ones (our authserv-id) are removed.
            std::string original;
            std::optional<policy::spam_decision> spam; // set when the message was scored
            const bool check_auth = checks_mail();
            if (check_auth) {
                mailauth::message_auth_request rq;
                rq.client_ip = facts_.client_ip;
                rq.helo = env.helo;
                rq.mail_from = m.mail_from;
                rq.hostname = settings->hostname;
                rq.message_key = m.id;
                rq.now = m.received_at;
                auto res = co_await net::co_spawn(
                    *st_.blocking_pool, auth_on_pool(st_.dns, a.message, std::move(rq)),
                    use_awaitable);
                std::size_t forged = 0;
                original = mailauth::strip_forged_auth_results(*a.message, settings->hostname,
                                                               &forged);
                log::info("mailauth", {{"session", id_}, {"queue_id", m.id},
                                       {"spf", res.spf_word()},
                                       {"spf_helo", std::string(mailauth::to_string(
                                                        res.spf_helo.result))},
                                       {"dkim", res.dkim_word()},
                                       {"dmarc", std::string(mailauth::to_string(
                                                     res.dmarc.status))},
                                       {"policy", std::string(mailauth::to_string(
                                                      res.dmarc.applied))},
                                       {"from_domain", res.dmarc.from_domain},
                                       {"forged_removed", std::to_string(forged)}});
                // Spam (daemon/policy/spam_filter.hpp): incoming X-Spam-* removed, then the
                // score and, per recipient domain, tag / Junk / 550 — DMARC p=reject and
                // p=quarantine are actions there, configurable per domain.
                std::size_t spam_forged = 0;
                original = policy::strip_spam_fields(original, &spam_forged);
                policy::spam_request sr;
                sr.client_ip = facts_.client_ip;
                sr.helo = env.helo;
                sr.mail_from = m.mail_from;
                sr.hostname = settings->hostname;
                sr.auth = {res.spf_word(), res.dkim_word(),
                           std::string(mailauth::to_string(res.dmarc.status)),
                           std::string(mailauth::to_string(res.dmarc.applied)),
                           res.dmarc.record_domain};
                sr.dmarc_reject_allowed = settings->dmarc_reject;
                spam = co_await net::co_spawn(
                    *st_.blocking_pool,
                    spam_on_pool(st_.config, st_.dns, &original, std::move(sr), targets),
                    use_awaitable);
                log::info("spam", {{"session", id_}, {"queue_id", m.id},
                                   {"score", std::to_string(spam->score)},
                                   {"action", spam->action}, {"items", spam->items},
                                   {"forged_removed", std::to_string(spam_forged)}});
                if (spam->rejection) {
                    log::info("rejected", {{"session", id_}, {"queue_id", m.id},
                                           {"reason", spam->rejection->summary()}});
                    fsm.deliver_result(*spam->rejection);
                    targets.clear();
                    break;
                }
                std::string top = res.header;
                if (res.dmarc.status == mailauth::dmarc_status::fail &&
                    res.dmarc.applied != mailauth::dmarc_policy::none)
                    top += "X-Cartero-DMARC: " +
                           std::string(mailauth::to_string(res.dmarc.applied)) + "\r\n";
                header += top; // below our Received (which stays the topmost trace field)
            }
            // Submissions and trusted relays (no checks) take the received octets as they are:
            // no intermediate copy of the body (at 100 KB, one of five copies per message).
            const std::string& content = check_auth ? original : *a.message;
            const std::size_t header_size = a.message_prefix ? a.message_prefix : header.size();
            if (a.message_prefix) { // only unchecked mail has one (the fsm's message_prefix)
                m.body = std::move(*a.message); // Received field and content, as stored
                // A small message must not keep the reader's 128 KiB reserve while queued.
                const std::size_t slack = m.body.capacity() - m.body.size();
                if (slack > std::max<std::size_t>(16u << 10, m.body.size() / 2)) m.body.shrink_to_fit();
            } else {
                // One allocation of the final size (move-assigning the header would drop the
                // reservation and reallocate for the content).
                m.body.reserve(header.size() + content.size());
                m.body.append(header);
                m.body.append(content);
            }
            m.rcpts = targets;
            // Our trace fields never start a line with "."; the content's lines are as the
            // reader stored them (checked mail is left out: its fields were rewritten).
            m.dot_free = !check_auth && a.message_dot_free;

            if (!verp_refs.empty()) {
                auto body = std::make_shared<const std::string>(m.body);
                bool ok = co_await take_async_bounces(st_, id_, std::move(verp_refs),
                                                      std::move(verp_rcpt), std::move(body));
                verp_refs.clear();
                verp_rcpt.clear();
                if (!ok || m.rcpts.empty()) {
                    if (ok) {
                        ++messages;
                        ++st_.messages_accepted;
                    }
                    fsm.deliver_result(
                        ok ? reply(250, "2.0.0", "Ok: report received as " + m.id)
                           : reply(451, "4.3.0", "Local error in processing, try again"));
                    targets.clear();
                    break;
                }
            }
            // DESIGN.md: one recipient over quota is refused now; with several, the others
            // get it and the full mailbox's copy waits for the bounce machinery.
            if (m.rcpts.size() == 1 && m.rcpts[0].kind == queue::rcpt_kind::local &&
                m.rcpts[0].quota_bytes > 0 && st_.quota &&
                !st_.quota(m.rcpts[0].maildir, m.rcpts[0].quota_bytes, m.body.size())) {
                auto r = reply(552, "5.2.2", "Mailbox full: message exceeds the quota");
                log::info("rejected", {{"session", id_}, {"queue_id", m.id},
                                       {"reason", r.summary()}});
                fsm.deliver_result(r);
                break;
            }
            const std::string id = m.id;
            const std::size_t size = m.body.size(), nrcpt = m.rcpts.size();
            const std::string from = m.mail_from;
            // Scored: one queue message per group of recipients with the same X-Spam-* fields
            // (under our trace fields); Junk recipients carry the .Junk maildir.
            std::vector<queue::message> parts;
            if (spam && !spam->groups.empty()) {
                const std::size_t at = header_size;
                for (std::size_t g = 0; g < spam->groups.size(); ++g) {
                    queue::message p = m; // envelope fields; body and recipients below
                    if (g > 0) p.id = queue::new_queue_id();
                    p.body = m.body.substr(0, at) + spam->groups[g].fields + m.body.substr(at);
                    p.rcpts = std::move(spam->groups[g].rcpts);
                    parts.push_back(std::move(p));
                }
            } else {
                parts.push_back(std::move(m));
            }
            std::optional<std::string> err;
            for (auto& p : parts) {
                err = co_await async_enqueue(*st_.store, std::move(p), use_awaitable);
                if (err) break;
            }
            if (err) {
                log::error("queue_failed", {{"session", id_}, {"queue_id", id}, {"error", *err}});
                fsm.deliver_result(reply(451, "4.3.0", "Local error in processing, try again"));
            } else {
                ++messages;
                ++st_.messages_accepted;
                log::info("queued", {{"session", id_}, {"queue_id", id}, {"from", from},
                                     {"recipients", std::to_string(nrcpt)},
                                     {"size", std::to_string(size)}});
                fsm.deliver_result(reply(250, "2.0.0", "Ok: queued as " + id));
            }
            targets.clear();
            break;
        }
        case smtp::action_kind::close:
            co_await flush(out);
            running = false;
            break;
        }
    }
    boost::system::error_code ignored;
    if (tls_) {
        arm(std::chrono::seconds(2));
        co_await tls_stream_->async_shutdown(nothrow);
        disarm();
    }
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    log::info("disconnect", {{"session", id_}, {"ip", facts_.client_ip}, {"reason", end_reason},
                             {"messages", std::to_string(messages)}});
}

} // namespace cartero::inbound
