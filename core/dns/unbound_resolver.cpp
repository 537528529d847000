// core/dns/unbound_resolver.cpp — dns::resolver on libunbound: one thread owns the ub_ctx and
// waits on ub_fd() and a wake-up pipe with poll(); it enforces each lookup's deadline itself.
#include "core/dns/forwarder.hpp"
#include "core/dns/query_name.hpp"
#include "core/dns/rdata.hpp"
#include "core/dns/resolver.hpp"

#include <unbound.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace cartero::dns {
namespace {

using clock = std::chrono::steady_clock;

// IANA root trust anchors (https://data.iana.org/root-anchors/root-anchors.xml): KSK-2017 and
// KSK-2024, which signs the root DNSKEY set from 2026-10-11. Used when no root.key file from
// dns-root-data or unbound-anchor is on the system.
constexpr const char* root_anchors[] = {
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
};
constexpr const char* root_key_files[] = {"/usr/share/dns/root.key", "/var/lib/unbound/root.key"};

// Reverse zones that unbound answers locally by default (RFC 6303 "locally served zones") but
// that a mail server must ask its DNS about: the documentation networks (RFC 5737, RFC 3849)
// used in tests and examples. RFC 1918 ones are released by unblock-lan-zones.
constexpr const char* served_upstream[] = {
    "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa."};

std::string describe(std::string_view name, rr_type type) {
    return std::string(to_string(type)) + " " + cartero::quoted(name);
}

class unbound_resolver final : public resolver {
public:
    explicit unbound_resolver(const resolver_settings& s) : timeout_(s.timeout), dnssec_(s.dnssec) {
        if (s.timeout.count() <= 0)
            throw std::runtime_error("DNS resolver: the timeout must be positive");
        std::string fwd;
        if (!s.forward_to.empty()) {
            auto f = parse_forwarder(s.forward_to);
            if (!f) throw std::runtime_error("DNS " + f.error);
            fwd = f.value.unbound_form();
        }
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::runtime_error("DNS resolver: cannot create a pipe: " +
                                     std::string(std::strerror(errno)));
        wake_r_ = fds[0];
        wake_w_ = fds[1];
        ctx_ = ub_ctx_create();
        if (!ctx_) {
            close_pipe();
            throw std::runtime_error("DNS resolver: libunbound cannot create a context");
        }
        try {
            configure(s, fwd);
        } catch (...) {
            ub_ctx_delete(ctx_);
            close_pipe();
            throw;
        }
        thread_ = std::thread([this] { run(); });
    }

    ~unbound_resolver() override {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        wake();
        if (thread_.joinable()) thread_.join();
        close_pipe();
    }

    answer lookup(std::string_view name, rr_type type) override {
        if (std::this_thread::get_id() == thread_.get_id()) {
            answer a;
            a.why = "lookup() was called from inside a DNS callback, where it would wait for "
                    "itself; use async_lookup() there";
            return a;
        }
        std::promise<answer> p;
        auto f = p.get_future();
        async_lookup(name, type, [&p](answer a) { p.set_value(std::move(a)); });
        // The resolver thread answers every request (by its deadline at the latest, or with
        // "resolver stopped"), so this wait ends.
        return f.get();
    }

    void async_lookup(std::string_view name, rr_type type,
                      std::function<void(answer)> done) override {
        request rq;
        rq.type = type;
        rq.shown = std::string(name);
        rq.done = std::move(done);
        rq.deadline = clock::now() + timeout_;
        if (auto q = query_name(name)) {
            rq.name = std::move(q.value);
        } else {
            answer a;
            a.why = q.error;
            rq.ready = std::move(a);
        }
        {
            std::unique_lock lock(mu_);
            if (!stopping_) {
                incoming_.push_back(std::move(rq));
                lock.unlock();
                wake();
                return;
            }
        }
        // Only when called during destruction, which the contract forbids; answer anyway.
        answer a;
        a.why = "resolver stopped";
        if (rq.done) rq.done(std::move(a));
    }

private:
    struct request {
        std::string name;  // as sent to libunbound
        std::string shown; // as the caller gave it, for messages
        rr_type type = rr_type::a;
        std::function<void(answer)> done;
        clock::time_point deadline;
        std::optional<answer> ready; // refused before any query
    };
    struct pending {
        unbound_resolver* self = nullptr;
        request rq;
        int id = 0;
        bool answered = false; // the caller has its answer (a timeout); libunbound may still call
    };

    void configure(const resolver_settings& s, const std::string& fwd) {
        auto check = [](int err, std::string_view what) {
            if (err != 0)
                throw std::runtime_error("DNS resolver: libunbound refused " + std::string(what) +
                                         ": " + ub_strerror(err));
        };
        auto option = [&](const char* opt, const char* val) {
            check(ub_ctx_set_option(ctx_, opt, val), std::string(opt) + " " + val);
        };
        // Threads, not the default forked process: a daemon must not fork behind its own back.
        check(ub_ctx_async(ctx_, 1), "threaded mode");
        // Forwarders on loopback (a local cache, systemd-resolved at 127.0.0.53, the tests'
        // Knot) are allowed; unbound refuses them by default.
        option("do-not-query-localhost:", "no");
        option("unblock-lan-zones:", "yes");
        for (const char* z : served_upstream) {
            std::string v = std::string(z) + " nodefault";
            option("local-zone:", v.c_str());
        }
        if (!fwd.empty()) {
            check(ub_ctx_set_fwd(ctx_, fwd.c_str()), "forwarder " + s.forward_to);
        } else if (ub_ctx_resolvconf(ctx_, nullptr) != 0) {
            // No readable /etc/resolv.conf: libunbound resolves from the root servers itself.
        }
        if (s.dnssec) {
            bool from_file = false;
            for (const char* f : root_key_files) {
                std::error_code ec;
                if (std::filesystem::exists(f, ec) && ub_ctx_add_ta_file(ctx_, f) == 0) {
                    from_file = true;
                    break;
                }
            }
            if (!from_file)
                for (const char* ta : root_anchors) check(ub_ctx_add_ta(ctx_, ta), "root anchor");
        } else {
            // No validator at all: without trust anchors it would only cost time.
            option("module-config:", "iterator");
        }
    }

    void close_pipe() {
        if (wake_r_ >= 0) ::close(wake_r_);
        if (wake_w_ >= 0) ::close(wake_w_);
        wake_r_ = wake_w_ = -1;
    }

    void wake() {
        char c = 1;
        // EAGAIN: the pipe is full of wake-ups already, which is as good.
        [[maybe_unused]] auto n = ::write(wake_w_, &c, 1);
    }

    void drain_wake() {
        char buf[256];
        while (::read(wake_r_, buf, sizeof buf) > 0) {
        }
    }

    // ---- everything below runs on the resolver thread only ---------------------------------

    void run() {
        for (;;) {
            std::vector<request> batch;
            bool stop = false;
            {
                std::lock_guard lock(mu_);
                batch.swap(incoming_);
                stop = stopping_;
            }
            if (stop) {
                for (auto& rq : batch) finish(rq, stopped());
                break;
            }
            for (auto& rq : batch) start(std::move(rq));
            expire(clock::now());
            deliver();

            pollfd fds[2] = {{ub_fd(ctx_), POLLIN, 0}, {wake_r_, POLLIN, 0}};
            int rc = ::poll(fds, 2, poll_timeout_ms());
            if (rc > 0 && (fds[1].revents & POLLIN)) drain_wake();
            if (rc > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP))) {
                // Runs on_result for every finished query; their answers wait in completed_.
                ub_process(ctx_);
            }
            expire(clock::now());
            deliver();
        }
        // ub_ctx_delete stops libunbound's thread and frees its queries without callbacks.
        ub_ctx_delete(ctx_);
        ctx_ = nullptr;
        for (auto& [p, owned] : pending_)
            if (!owned->answered) completed_.emplace_back(std::move(owned->rq.done), stopped());
        pending_.clear();
        deliver();
    }

    static answer stopped() {
        answer a;
        a.why = "resolver stopped";
        return a;
    }

    void finish(request& rq, answer a) {
        completed_.emplace_back(std::move(rq.done), std::move(a));
    }

    void start(request rq) {
        if (rq.ready) {
            answer a = std::move(*rq.ready);
            finish(rq, std::move(a));
            return;
        }
        auto p = std::make_unique<pending>();
        p->self = this;
        p->rq = std::move(rq);
        int err = ub_resolve_async(ctx_, p->rq.name.c_str(), static_cast<int>(p->rq.type),
                                   1 /* class IN */, p.get(), &on_result, &p->id);
        if (err != 0) {
            answer a;
            a.why = "cannot look up " + describe(p->rq.shown, p->rq.type) + ": libunbound: " +
                    ub_strerror(err);
            finish(p->rq, std::move(a));
            return;
        }
        pending* raw = p.get();
        pending_.emplace(raw, std::move(p));
    }

    void expire(clock::time_point now) {
        for (auto it = pending_.begin(); it != pending_.end();) {
            pending& p = *it->second;
            if (p.answered || p.rq.deadline > now) {
                ++it;
                continue;
            }
            p.answered = true;
            answer a;
            a.st = status::timeout;
            a.why = "no answer for " + describe(p.rq.shown, p.rq.type) + " within " +
                    std::to_string(timeout_.count()) + " ms; the DNS server may be unreachable";
            completed_.emplace_back(std::move(p.rq.done), std::move(a));
            // Cancelled: libunbound will not call back, so the record goes now. Otherwise the
            // result is already on its way through ub_fd and on_result frees the record.
            if (ub_cancel(ctx_, p.id) == UB_NOERROR) it = pending_.erase(it);
            else ++it;
        }
    }

    int poll_timeout_ms() const {
        auto now = clock::now();
        std::optional<clock::time_point> first;
        for (const auto& [raw, p] : pending_)
            if (!p->answered && (!first || p->rq.deadline < *first)) first = p->rq.deadline;
        if (!first) return -1;
        if (*first <= now) return 0;
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(*first - now).count();
        return static_cast<int>(std::min<long long>(ms, 60'000));
    }

    void deliver() {
        // Callbacks run outside ub_process and outside any lock, so they may call
        // async_lookup(); one that throws must not take the resolver thread down.
        auto batch = std::move(completed_);
        completed_.clear();
        for (auto& [done, a] : batch) {
            if (!done) continue;
            try {
                done(std::move(a));
            } catch (...) {
            }
        }
    }

    static void on_result(void* arg, int err, ub_result* result) {
        auto* p = static_cast<pending*>(arg);
        unbound_resolver* self = p->self;
        if (!p->answered)
            self->completed_.emplace_back(std::move(p->rq.done),
                                          convert(p->rq, err, result, self->dnssec_on()));
        if (result) ub_resolve_free(result);
        self->pending_.erase(p);
    }

    bool dnssec_on() const { return dnssec_; }

    static answer convert(const request& rq, int err, const ub_result* r, bool dnssec) {
        answer a;
        const std::string what = describe(rq.shown, rq.type);
        if (err != 0 || !r) {
            a.why = "cannot look up " + what + ": libunbound: " + ub_strerror(err);
            return a;
        }
        a.secure = dnssec && r->secure && !r->bogus;
        if (r->bogus) {
            a.st = status::servfail;
            a.why = "DNSSEC validation failed for " + what +
                    (r->why_bogus ? std::string(": ") + r->why_bogus : std::string());
            return a;
        }
        switch (r->rcode) {
        case 0: break;
        case 2:
            a.st = status::servfail;
            a.why = "the DNS server failed to answer " + what + " (SERVFAIL); try again later";
            return a;
        case 3:
            // RFC 1035 §4.1.1 name error: the name does not exist at all.
            a.st = status::nxdomain;
            a.why = cartero::quoted(rq.shown) + " does not exist (NXDOMAIN)";
            return a;
        default:
            a.why = "the DNS server refused or could not handle " + what + " (rcode " +
                    std::to_string(r->rcode) + ")";
            return a;
        }
        if (!r->havedata) {
            // RFC 2308 §2.2: the name exists but has no records of this type.
            a.st = status::nodata;
            a.why = cartero::quoted(rq.shown) + " has no " + std::string(to_string(rq.type)) +
                    " records";
            return a;
        }
        for (int i = 0; r->data && r->data[i]; ++i) {
            auto text = format_rdata(rq.type, reinterpret_cast<const unsigned char*>(r->data[i]),
                                     static_cast<std::size_t>(r->len[i]));
            if (text) a.records.push_back(std::move(*text));
        }
        if (a.records.empty()) {
            a.why = "the answer for " + what + " was malformed";
            return a;
        }
        a.st = status::ok;
        return a;
    }

    ub_ctx* ctx_ = nullptr;
    std::chrono::milliseconds timeout_;
    bool dnssec_ = false;
    int wake_r_ = -1, wake_w_ = -1;

    std::mutex mu_; // guards incoming_ and stopping_
    std::vector<request> incoming_;
    bool stopping_ = false;

    // Resolver thread only.
    std::unordered_map<pending*, std::unique_ptr<pending>> pending_;
    std::vector<std::pair<std::function<void(answer)>, answer>> completed_;

    std::thread thread_; // last: started when everything above exists
};

} // namespace

std::unique_ptr<resolver> make_resolver(const resolver_settings& s) {
    return std::make_unique<unbound_resolver>(s);
}

} // namespace cartero::dns
