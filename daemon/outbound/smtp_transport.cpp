// daemon/outbound/smtp_transport.cpp — one coroutine per delivery job: next hops, addresses,
// connect (bound to the source IP), then the client state machine over plain TCP or TLS.
#include "daemon/outbound/smtp_transport.hpp"

#include "daemon/outbound/io_deadline.hpp"

#include "core/log.hpp"
#include "core/octets.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <map>

namespace cartero::outbound {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using net::use_awaitable;
using namespace net::experimental::awaitable_operators;
constexpr auto nothrow = net::as_tuple(use_awaitable);

smtp_transport::smtp_transport(net::any_io_executor ex, dns::resolver& resolver,
                               net::ssl::context& client_tls, smtp_transport_settings s)
    : ex_(ex), resolver_(resolver), tls_(client_tls), s_(std::move(s)) {}

void smtp_transport::deliver(delivery_job job,
                             std::function<void(std::vector<attempt_result>)> done) {
    net::co_spawn(ex_, run(std::move(job), std::move(done)), net::detached);
}

namespace {

// The resolver answers on its own thread: post the answer back to the waiting coroutine's
// executor, keeping the io_context alive meanwhile. A function object, not a lambda with
// init-captures inside the coroutine: GCC 12 miscompiles those (see daemon/inbound).
struct dns_initiation {
    dns::resolver* resolver;
    net::any_io_executor fallback;
    template <class Handler>
    void operator()(Handler handler, std::string name, dns::rr_type type) const {
        auto ex = net::get_associated_executor(handler, fallback);
        auto h = std::make_shared<Handler>(std::move(handler));
        auto work = std::make_shared<net::executor_work_guard<decltype(ex)>>(ex);
        resolver->async_lookup(name, type, [h, work](dns::answer a) {
            auto answer = std::make_shared<dns::answer>(std::move(a));
            net::post(work->get_executor(), [h, work, answer] {
                (*h)(std::move(*answer));
                work->reset();
            });
        });
    }
};

} // namespace

net::awaitable<dns::answer> smtp_transport::lookup(std::string name, dns::rr_type type) {
    return net::async_initiate<decltype(use_awaitable), void(dns::answer)>(
        dns_initiation{&resolver_, ex_}, use_awaitable, std::move(name), type);
}

namespace {

bool is_ip(const std::string& s) {
    boost::system::error_code ec;
    net::ip::make_address(s, ec);
    return !ec;
}

// Header section only: SMTPUTF8 is needed for UTF-8 in addresses or headers (RFC 6531 §3.2);
// 8-bit octets anywhere need 8BITMIME (RFC 6152).
void classify_body(const std::string& body, bool& utf8_headers, bool& eight_bit) {
    auto end = body.find("\r\n\r\n");
    if (end == std::string::npos) end = body.size();
    const std::size_t first = first_non_ascii(body);
    eight_bit = first != std::string::npos;
    utf8_headers = first < end;
}

} // namespace

// The route for a recipient domain: its own ("example.com"), else the nearest parent's
// subdomain route (".example.com" matches every subdomain of example.com, not example.com
// itself — Postfix transport_maps syntax).
const next_hop* find_route(const std::map<std::string, next_hop>& routes, const std::string& domain) {
    if (routes.empty()) return nullptr;
    if (auto it = routes.find(domain); it != routes.end()) return &it->second;
    for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1))
        if (auto it = routes.find(domain.substr(dot)); it != routes.end()) return &it->second;
    return nullptr;
}

namespace {

// A transaction on a reused connection that died before the server answered its MAIL FROM
// (lost or reset connection, write error, or 421 "closing channel": the server dropped the
// cached connection, e.g. its idle timeout) got no verdict from the server: like Postfix's
// connection cache, Cartero retries it at once on a fresh connection instead of deferring it.
// Timeouts and protocol errors are not included: a fresh connection would not fix those.
bool dropped_before_mail_reply(const smtp::transaction_result& res) {
    if (res.recipients.empty()) return false;
    if (res.mail_reply && res.mail_reply->r.code != 421) return false;
    for (const auto& rr : res.recipients) {
        if (rr.stage != smtp::client_stage::mail) return false;
        const bool lost = rr.reply.local && rr.reply.r.enhanced == "4.4.2";
        if (!lost && rr.reply.r.code != 421) return false;
    }
    return true;
}

attempt_result local_failure(const reply& r, bool connection_failed) {
    attempt_result a;
    a.answer = r;
    a.connection_failed = connection_failed;
    return a;
}

} // namespace

net::awaitable<void> smtp_transport::run(delivery_job job,
                                         std::function<void(std::vector<attempt_result>)> done) {
    // One client transaction per item (a message, or one VERP recipient of it: flow 4, a
    // recipient with its own return path is a transaction of its own); return_paths and txs
    // are parallel to job.items ("" = the message's sender). Items come at the start and, on a
    // reused connection, later (job.refill). Results keyed by recipients.id.
    std::vector<std::string> return_paths;
    std::vector<smtp::transaction> txs;
    std::vector<bool> reconnected; // parallel to job.items: already retried on a fresh connection
    // By (queue id, recipients.id): queue.db reuses a row id once its message is gone, so a
    // reused connection can carry two recipients with the same id.
    std::map<std::pair<std::string, std::int64_t>, attempt_result> results;
    std::vector<delivery_job::item> incoming = std::move(job.items);
    job.items.clear();
    auto add_items = [&](std::vector<delivery_job::item> in) {
        std::vector<std::size_t> added;
        auto push = [&](delivery_job::item item, std::string rp) {
            const std::size_t i = job.items.size();
            smtp::transaction t;
            t.id = i;
            t.mail_from = rp.empty() ? item.msg->mail_from : rp;
            t.dsn_ret = item.msg->ret;
            t.dsn_envid = item.msg->envid;
            t.body = item.msg->body ? item.msg->body : std::make_shared<const std::string>();
            t.body_dot_free = item.msg->dot_free;
            bool utf8_headers = false, eight_bit = false;
            classify_body(*t.body, utf8_headers, eight_bit);
            t.eight_bit = eight_bit;
            t.needs_smtputf8 = utf8_headers || has_non_ascii(t.mail_from);
            for (auto idx : item.rcpts) {
                const auto& r = item.msg->rcpts[idx];
                t.rcpts.push_back({r.address, r.notify, r.orcpt});
                t.needs_smtputf8 = t.needs_smtputf8 || has_non_ascii(r.address);
            }
            txs.push_back(std::move(t));
            reconnected.push_back(false);
            return_paths.push_back(std::move(rp));
            job.items.push_back(std::move(item));
            added.push_back(i);
        };
        for (auto& item : in) {
            delivery_job::item rest{item.msg, {}};
            for (auto idx : item.rcpts) {
                std::string rp = s_.return_path ? s_.return_path(*item.msg, item.msg->rcpts[idx])
                                                : std::string();
                if (rp.empty()) rest.rcpts.push_back(idx);
                else push({item.msg, {idx}}, std::move(rp));
            }
            if (!rest.rcpts.empty()) push(std::move(rest), std::string());
        }
        return added;
    };
    std::vector<std::size_t> pending = add_items(std::move(incoming));
    bool all_delivered = true; // every transaction so far accepted (connection reuse)

    auto finish_all = [&](const attempt_result& how) {
        for (auto i : pending)
            for (auto idx : job.items[i].rcpts) {
                attempt_result a = how;
                a.row_id = job.items[i].msg->rcpts[idx].row_id;
                a.message_id = job.items[i].msg->id;
                a.source_ip = job.source_ip;
                results[{a.message_id, a.row_id}] = a;
            }
        pending.clear();
    };

    // 1. Next hops: the domain's transport route, the relayhost, or the MX hosts (RFC 5321
    // §5.1), or the domain itself.
    std::vector<next_hop> hops;
    std::string mx_host; // the most preferred MX host, for `mx:` pacing rules
    if (const next_hop* route = find_route(s_.routes, job.domain)) {
        hops.push_back(*route);
    } else if (s_.relayhost) {
        hops.push_back(*s_.relayhost);
    } else {
        auto mx = co_await lookup(job.domain, dns::rr_type::mx);
        if (mx.st == dns::status::nxdomain) {
            finish_all(local_failure(reply(550, "5.1.2", "Recipient domain " + job.domain +
                                                             " does not exist (DNS NXDOMAIN)"),
                                     false));
        } else if (mx.st == dns::status::ok) {
            auto hosts = dns::parse_mx(mx);
            if (dns::is_null_mx(hosts))
                finish_all(local_failure(reply(556, "5.1.10", "Recipient domain " + job.domain +
                                                                  " accepts no mail (null MX, RFC 7505)"),
                                         false));
            for (const auto& h : hosts)
                if (hops.size() < s_.max_mx_hosts && !h.host.empty())
                    hops.push_back({h.host, 25, false, std::nullopt});
            if (!hops.empty()) mx_host = hops.front().host;
        } else if (mx.st == dns::status::nodata) {
            hops.push_back({job.domain, 25, false, std::nullopt}); // implicit MX
            mx_host = job.domain;
        } else {
            finish_all(local_failure(reply(451, "4.4.3", "DNS lookup of MX for " + job.domain +
                                                             " failed: " + std::string(dns::to_string(mx.st)) +
                                                             (mx.why.empty() ? "" : " (" + mx.why + ")")),
                                     true));
        }
    }

    if (job.next_hop_known) {
        while (!mx_host.empty() && mx_host.back() == '.') mx_host.pop_back();
        for (auto& ch : mx_host)
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        job.next_hop_known(mx_host);
    }

    reply last_error(451, "4.4.1", "No mail server for " + job.domain + " could be reached");
    boost::system::error_code ec;
    const auto source = job.source_ip.empty() ? net::ip::address() : net::ip::make_address(job.source_ip, ec);
    const bool have_source = !job.source_ip.empty() && !ec;

    for (const auto& hop : hops) {
        if (pending.empty()) break;
        // 2. Addresses of this host, in the source IP's family when one is set.
        std::vector<std::string> addrs;
        if (is_ip(hop.host)) {
            addrs.push_back(hop.host);
        } else {
            if (!have_source || source.is_v4()) {
                auto a = co_await lookup(hop.host, dns::rr_type::a);
                if (a.ok()) addrs.insert(addrs.end(), a.records.begin(), a.records.end());
            }
            if (!have_source || source.is_v6()) {
                auto a = co_await lookup(hop.host, dns::rr_type::aaaa);
                if (a.ok()) addrs.insert(addrs.end(), a.records.begin(), a.records.end());
            }
            if (addrs.empty()) {
                last_error = reply(451, "4.4.3", "Mail server " + hop.host + " has no address");
                continue;
            }
        }
        if (addrs.size() > s_.max_addresses) addrs.resize(s_.max_addresses);

        for (std::size_t ai = 0; ai < addrs.size(); ++ai) {
            if (pending.empty()) break;
            const std::string addr_text = addrs[ai];
            auto addr = net::ip::make_address(addr_text, ec);
            if (ec || (have_source && addr.is_v4() != source.is_v4())) continue;
            tcp::endpoint remote(addr, hop.port);
            tcp::socket sock(ex_);
            sock.open(remote.protocol(), ec);
            if (!ec && have_source) sock.bind(tcp::endpoint(source, 0), ec);
            if (ec) {
                last_error = reply(451, "4.4.0", "Cannot use source address " + job.source_ip + ": " + ec.message());
                continue;
            }
            net::steady_timer timer(ex_, s_.connect_timeout);
            auto connected = co_await (sock.async_connect(remote, nothrow) || timer.async_wait(nothrow));
            if (connected.index() == 1) {
                last_error = reply(451, "4.4.1", "Connection to " + hop.host + "[" + addr_text + "]:" +
                                                     std::to_string(hop.port) + " timed out");
                continue;
            }
            if (auto [cec] = std::get<0>(connected); cec) {
                last_error = reply(451, "4.4.1", "Connection to " + hop.host + "[" + addr_text + "]:" +
                                                     std::to_string(hop.port) + " failed: " + cec.message());
                continue;
            }
            sock.set_option(tcp::no_delay(true), ec);

            // 3. The conversation.
            smtp::client_settings cs;
            cs.helo_name = job.helo_name.empty() ? "localhost" : job.helo_name;
            cs.tls = hop.require_tls || hop.auth ? smtp::tls_policy::required : s_.tls;
            cs.auth = hop.auth;
            smtp::client_fsm c(cs);
            for (auto i : pending) c.add_transaction(txs[i]);
            if (!job.refill) c.no_more_transactions(); // else: asked for more when idle
            net::ssl::stream<tcp::socket> stream(std::move(sock), tls_);
            // Bounds every read and write below; on expiry the socket is cancelled, so the
            // operation ends and expired() tells why.
            io_deadline deadline(ex_, [&stream] {
                boost::system::error_code ignored;
                stream.next_layer().cancel(ignored);
            });
            bool tls = false;
            std::string out, tls_desc;
            std::vector<std::size_t> still_pending;
            std::size_t answered = 0; // transactions with the server's verdict on this connection
            bool reconnect = false;   // some were dropped on reuse: same address, fresh connection
            char buf[16384];

            auto io_timer = [&](smtp::client_timeout t) {
                auto d = smtp::timeout_duration(t);
                return d.count() > 0 ? d : std::chrono::seconds(300);
            };
            // Writes `out`, then a body the client fsm lent (client_action::borrowed) and what
            // follows it, in one gather write.
            auto flush = [&](std::string_view borrowed = {}, std::string_view after = {}) -> net::awaitable<bool> {
                if (out.empty() && borrowed.empty() && after.empty()) co_return true;
                const std::array<net::const_buffer, 3> bufs{net::buffer(out), net::buffer(borrowed),
                                                            net::buffer(after)};
                deadline.start(io_timer(c.current_timeout()));
                boost::system::error_code wec;
                if (tls) std::tie(wec, std::ignore) = co_await net::async_write(stream, bufs, nothrow);
                else std::tie(wec, std::ignore) = co_await net::async_write(stream.next_layer(), bufs, nothrow);
                deadline.stop();
                out.clear();
                co_return !wec && !deadline.expired();
            };

            for (bool running = true; running;) {
                auto a = c.next();
                switch (a.kind) {
                case smtp::client_action_kind::send:
                    if (out.empty()) out.swap(a.out); // a body chunk: no second copy of it
                    else out += a.out;
                    // A dot-free body straight from the message (no stuffed copy); the fsm
                    // only keeps it valid until the next call, so it goes out now.
                    if (!a.borrowed.empty() && !(co_await flush(a.borrowed, a.after))) c.eof();
                    else if (a.borrowed.empty()) out += a.after;
                    break;
                case smtp::client_action_kind::need_input: {
                    if (!(co_await flush())) {
                        c.eof();
                        break;
                    }
                    deadline.start(io_timer(c.current_timeout()));
                    std::size_t n = 0;
                    if (tls) std::tie(ec, n) = co_await stream.async_read_some(net::buffer(buf), nothrow);
                    else std::tie(ec, n) = co_await stream.next_layer().async_read_some(net::buffer(buf), nothrow);
                    deadline.stop();
                    if (deadline.expired()) c.timed_out();
                    else if (ec && n == 0) c.eof();
                    else c.feed(std::string_view(buf, n));
                    break;
                }
                case smtp::client_action_kind::start_tls: {
                    if (!(co_await flush())) {
                        c.eof();
                        break;
                    }
                    if (!is_ip(hop.host))
                        SSL_set_tlsext_host_name(stream.native_handle(), hop.host.c_str());
                    net::steady_timer t(ex_, std::chrono::seconds(60));
                    auto r = co_await (stream.async_handshake(net::ssl::stream_base::client, nothrow) ||
                                       t.async_wait(nothrow));
                    if (r.index() == 1) {
                        c.tls_failed("TLS handshake timed out");
                    } else if (auto [hec] = std::get<0>(r); hec) {
                        c.tls_failed("TLS handshake failed: " + hec.message());
                    } else {
                        tls = true;
                        c.tls_started(SSL_get_version(stream.native_handle()),
                                      SSL_get_cipher_name(stream.native_handle()));
                        tls_desc = c.tls_version() + " " + c.tls_cipher();
                    }
                    break;
                }
                case smtp::client_action_kind::transaction_done: {
                    const auto& res = *a.result;
                    const auto& item = job.items[res.id];
                    if (answered > 0 && !reconnected[res.id] && dropped_before_mail_reply(res)) {
                        // Once per transaction, so a server that always drops cannot loop us.
                        reconnected[res.id] = true;
                        reconnect = true;
                        still_pending.push_back(res.id);
                        log::info("outbound_reconnect",
                                  {{"domain", job.domain}, {"host", hop.host}, {"ip", addr_text},
                                   {"reply", res.recipients.front().reply.r.summary()}});
                        break;
                    }
                    bool connection_level = false;
                    for (const auto& rr : res.recipients)
                        if (rr.stage == smtp::client_stage::not_attempted ||
                            rr.stage == smtp::client_stage::greeting ||
                            rr.stage == smtp::client_stage::helo ||
                            rr.stage == smtp::client_stage::starttls ||
                            rr.stage == smtp::client_stage::auth)
                            connection_level = true;
                    if (connection_level) {
                        // RFC 5321 §5.1: try the next address/MX host with this message.
                        still_pending.push_back(res.id);
                        if (!res.recipients.empty()) last_error = res.recipients.front().reply.r;
                        break;
                    }
                    ++answered;
                    std::vector<attempt_result> delivered;
                    for (std::size_t j = 0; j < res.recipients.size() && j < item.rcpts.size(); ++j) {
                        const auto& rr = res.recipients[j];
                        attempt_result ar;
                        ar.row_id = item.msg->rcpts[item.rcpts[j]].row_id;
                        ar.message_id = item.msg->id;
                        ar.delivered = rr.delivered();
                        ar.answer = rr.reply.r;
                        ar.dest_host = hop.host;
                        ar.dest_ip = addr_text;
                        ar.source_ip = job.source_ip;
                        ar.tls = tls_desc;
                        ar.remote_dsn = c.extensions().dsn;
                        if (ar.delivered && job.delivered_early) delivered.push_back(ar);
                        all_delivered = all_delivered && ar.delivered;
                        results[{ar.message_id, ar.row_id}] = std::move(ar);
                    }
                    // Recorded now, not when the connection ends (see delivered_early).
                    if (!delivered.empty()) job.delivered_early(std::move(delivered));
                    break;
                }
                case smtp::client_action_kind::idle: {
                    // Reuse the connection for more of this destination's mail while everything
                    // on it was accepted; after a refusal the job ends, so that its failures
                    // (DSNs) and pushback (pauses) are handled now, not after the reuse.
                    std::vector<delivery_job::item> more;
                    if (job.refill && !c.connection_error() && all_delivered) {
                        more = job.refill();
                        if (more.empty() && job.park && s_.idle_time.count() > 0 && (co_await flush())) {
                            net::steady_timer idle(ex_, s_.idle_time);
                            auto wake = std::make_shared<std::function<void()>>([&idle] { idle.cancel(); });
                            if (job.park(wake)) {
                                co_await idle.async_wait(nothrow);
                                wake.reset(); // no longer parked
                                more = job.refill();
                            }
                        }
                    }
                    if (more.empty()) {
                        c.no_more_transactions();
                        break;
                    }
                    for (auto i : add_items(std::move(more))) c.add_transaction(txs[i]);
                    break;
                }
                case smtp::client_action_kind::close:
                    co_await flush();
                    running = false;
                    break;
                }
            }
            if (tls) {
                net::steady_timer t(ex_, std::chrono::seconds(2));
                co_await (stream.async_shutdown(nothrow) || t.async_wait(nothrow));
            }
            stream.next_layer().close(ec);
            if (c.connection_error()) last_error = c.connection_error()->r;
            pending = std::move(still_pending);
            if (reconnect && !pending.empty()) --ai; // this address again (bounded: see above)
        }
    }
    // 4. Whatever is left never reached a server that would take it: a temporary failure.
    if (!pending.empty()) {
        if (!last_error.temporary()) last_error = reply(451, "4.4.1", last_error.summary());
        finish_all(local_failure(last_error, true));
    }
    std::vector<attempt_result> out;
    out.reserve(results.size());
    for (auto& [key, r] : results) out.push_back(std::move(r));
    done(std::move(out));
}

} // namespace cartero::outbound
