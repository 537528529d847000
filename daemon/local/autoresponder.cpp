// daemon/local/autoresponder.cpp — RFC 3834 rules, the reply builder and the reply worker.
#include "daemon/local/autoresponder.hpp"

#include "core/config_db.hpp"
#include "core/log.hpp"
#include "daemon/bounce/dsn_builder.hpp"
#include "daemon/bounce/message_parts.hpp"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace cartero::local {

namespace mime = bounce::mime;

namespace {

bool starts_with_ci(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && mime::lower(s.substr(0, p.size())) == p;
}

bool ends_with(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Local parts that are never a person reading mail (vacation(1), Sieve implementations).
bool system_local_part(std::string_view local) {
    static constexpr std::string_view exact[] = {
        "mailer-daemon", "mailer",  "postmaster", "listserv",     "majordomo",
        "noreply",       "no-reply", "donotreply", "do-not-reply", "uucp"};
    for (auto e : exact)
        if (local == e) return true;
    return starts_with_ci(local, "owner-") || ends_with(local, "-owner") ||
           ends_with(local, "-request") || ends_with(local, "-bounces") ||
           ends_with(local, "-relay");
}

// The first token of a field value: "auto-replied; x=1 (comment)" → "auto-replied".
std::string first_token(std::string_view v) {
    auto t = mime::lower(mime::trim(v));
    auto end = t.find_first_of("; \t(");
    return end == std::string::npos ? t : t.substr(0, end);
}

bool addr_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '%' || c == '+' || c == '-' || c == '=' || c == '\'';
}

// `addr` (lower case) occurs in the lower-cased field value as a whole address.
bool mentions(const std::string& value, const std::string& addr) {
    if (addr.empty()) return false;
    for (auto pos = value.find(addr); pos != std::string::npos; pos = value.find(addr, pos + 1)) {
        const bool left = pos == 0 || !addr_char(value[pos - 1]);
        const std::size_t end = pos + addr.size();
        // A trailing sentence dot is no part of the address: "…bob@example.org." matches.
        const bool right = end == value.size() || !addr_char(value[end]) ||
                           (value[end] == '.' &&
                            (end + 1 == value.size() || !addr_char(value[end + 1])));
        if (left && right) return true;
    }
    return false;
}

bool ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80 || c < 0x20) return false;
    return true;
}

std::string base64(std::string_view in) {
    static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += tbl[(v >> s) & 63];
    }
    if (i < in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// RFC 2047 §5(1): UTF-8 text as "B" encoded-words of ≤ 75 characters, never splitting a
// character, joined by folding whitespace.
std::string encode_words(std::string_view text) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t end = i;
        while (end < text.size()) {
            char32_t cp = 0;
            std::size_t n = utf8_sequence(text, end, cp);
            if (n == 0) n = 1; // invalid byte: carried as is (the store refuses such subjects)
            if (end + n - i > 45) break; // 45 bytes → 60 base64 chars + 12 = 72
            end += n;
        }
        if (end == i) end = i + 1;
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + base64(text.substr(i, end - i)) + "?=";
        i = end;
    }
    return out;
}

// RFC 2045 §6.7 quoted-printable of UTF-8 text; line ends become CRLF.
std::string quoted_printable(std::string_view text) {
    std::string out, line;
    static constexpr char hex[] = "0123456789ABCDEF";
    auto flush_line = [&](bool hard) {
        // Trailing whitespace is encoded so that transports that strip it change nothing.
        if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
            const char c = line.back();
            line.pop_back();
            line += '=';
            line += hex[(static_cast<unsigned char>(c) >> 4) & 15];
            line += hex[static_cast<unsigned char>(c) & 15];
        }
        out += line;
        out += hard ? "\r\n" : "=\r\n";
        line.clear();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
        if (c == '\n') {
            flush_line(true);
            continue;
        }
        std::string enc;
        if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
            enc = static_cast<char>(c);
        } else {
            enc = {'=', hex[c >> 4], hex[c & 15]};
        }
        if (line.size() + enc.size() > 75) flush_line(false);
        line += enc;
        // A line starting with "." or "From " is left as is: QP lines are safe for SMTP
        // (dot-stuffing happens on the wire) and nobody here writes mbox.
    }
    if (!line.empty()) flush_line(true);
    if (out.empty()) out = "\r\n";
    return out;
}

std::string one_line(std::string_view v) {
    std::string s;
    for (char c : v) s += (c == '\r' || c == '\n') ? ' ' : c;
    return mime::trim(s);
}

std::string random_hex(std::size_t n) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += hex[rng() & 15];
    return s;
}

std::string domain_of(std::string_view a) {
    auto at = a.rfind('@');
    return at == std::string_view::npos ? std::string(a) : std::string(a.substr(at + 1));
}

std::string mime_part(const std::string& type, std::string_view body) {
    return "Content-Type: " + type + "; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + quoted_printable(body);
}

} // namespace

const char* to_string(autoreply_skip s) {
    switch (s) {
    case autoreply_skip::none: return "none";
    case autoreply_skip::inactive: return "inactive";
    case autoreply_skip::null_sender: return "null sender";
    case autoreply_skip::own_address: return "own address";
    case autoreply_skip::system_sender: return "system sender";
    case autoreply_skip::auto_submitted: return "auto-submitted";
    case autoreply_skip::list_mail: return "list mail";
    case autoreply_skip::precedence: return "precedence bulk/list/junk";
    case autoreply_skip::spam: return "spam";
    case autoreply_skip::suppressed: return "x-auto-response-suppress";
    case autoreply_skip::not_addressed: return "mailbox not in To/Cc";
    case autoreply_skip::already_replied: return "already replied within interval";
    }
    return "?";
}

autoreply_skip screen(const autoreply_incoming& in, const config::autoreply_row& cfg,
                      std::int64_t now) {
    if (!cfg.active_at(now)) return autoreply_skip::inactive;
    if (in.envelope_sender.empty()) return autoreply_skip::null_sender;
    const std::string sender = mime::lower(in.envelope_sender);
    const std::string mailbox = mime::lower(in.mailbox), rcpt = mime::lower(in.rcpt_to);
    if (sender == mailbox || sender == rcpt) return autoreply_skip::own_address;
    const auto at = sender.rfind('@');
    if (system_local_part(at == std::string::npos ? sender : sender.substr(0, at)))
        return autoreply_skip::system_sender;

    const auto fields = mime::parse_fields(mime::split(in.message).first);
    bool addressed = false;
    for (const auto& f : fields) {
        const std::string name = mime::lower(f.name);
        if (name == "auto-submitted") {
            if (first_token(f.value) != "no") return autoreply_skip::auto_submitted;
        } else if (name.rfind("list-", 0) == 0) {
            return autoreply_skip::list_mail;
        } else if (name == "precedence") {
            const auto p = first_token(f.value);
            if (p == "bulk" || p == "list" || p == "junk") return autoreply_skip::precedence;
        } else if (name == "x-spam-flag") {
            if (first_token(f.value) == "yes") return autoreply_skip::spam;
        } else if (name == "x-auto-response-suppress") {
            const auto v = mime::lower(f.value);
            if (v.find("all") != std::string::npos || v.find("oof") != std::string::npos)
                return autoreply_skip::suppressed;
        } else if (name == "to" || name == "cc" || name == "bcc" || name == "resent-to" ||
                   name == "resent-cc" || name == "resent-bcc") {
            const auto v = mime::lower(f.value);
            addressed = addressed || mentions(v, mailbox) || mentions(v, rcpt);
        }
    }
    if (!addressed) return autoreply_skip::not_addressed;
    return autoreply_skip::none;
}

built_autoreply build_autoreply(const autoreply_incoming& in, const config::autoreply_row& cfg,
                                std::chrono::system_clock::time_point now) {
    const auto fields = mime::parse_fields(mime::split(in.message).first);
    const std::string orig_id = one_line(mime::get(fields, "Message-ID").value_or(""));
    std::string refs = one_line(mime::get(fields, "References").value_or(""));
    if (refs.empty()) refs = one_line(mime::get(fields, "In-Reply-To").value_or(""));

    std::string subject = cfg.subject;
    if (subject.empty()) {
        std::string orig = one_line(mime::get(fields, "Subject").value_or(""));
        subject = orig.empty() ? "Auto: (no subject)" : "Auto: " + orig;
        if (subject.size() > 900) subject.resize(900);
    }
    // Unchanged when ASCII (an original's encoded-words stay valid); else RFC 2047.
    const std::string subject_field = ascii(subject) ? subject : encode_words(subject);

    built_autoreply out;
    out.message_id = "<" + random_hex(24) + ".autoreply@" + domain_of(in.mailbox) + ">";
    std::string m;
    m += "From: <" + in.mailbox + ">\r\n";
    m += "To: <" + in.envelope_sender + ">\r\n";
    m += "Subject: " + subject_field + "\r\n";
    m += "Date: " + bounce::rfc5322_date(now) + "\r\n";
    m += "Message-ID: " + out.message_id + "\r\n";
    if (!orig_id.empty() && orig_id.size() <= 900) {
        m += "In-Reply-To: " + orig_id + "\r\n";
        // RFC 5322 §3.6.4: the parent's References (or In-Reply-To) then its Message-ID;
        // the oldest ids are dropped past ~900 bytes so the field stays one sane line.
        std::string chain = refs.empty() ? orig_id : refs + " " + orig_id;
        while (chain.size() > 900) {
            auto sp = chain.find(' ');
            if (sp == std::string::npos) break;
            chain.erase(0, sp + 1);
        }
        m += "References: " + chain + "\r\n";
    }
    m += "Auto-Submitted: auto-replied\r\n";   // RFC 3834 §5
    m += "X-Auto-Response-Suppress: All\r\n"; // Exchange: do not answer this answer
    m += "MIME-Version: 1.0\r\n";
    if (!cfg.body_html) {
        m += mime_part("text/plain", cfg.body_text);
    } else {
        std::string boundary;
        do boundary = "=_autoreply_" + random_hex(24);
        while (cfg.body_text.find(boundary) != std::string::npos ||
               cfg.body_html->find(boundary) != std::string::npos);
        m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
        m += "--" + boundary + "\r\n" + mime_part("text/plain", cfg.body_text);
        m += "--" + boundary + "\r\n" + mime_part("text/html", *cfg.body_html);
        m += "--" + boundary + "--\r\n";
    }
    out.message = std::move(m);
    return out;
}

bool claim_reply_slot(sqlite3* db, const std::string& mailbox, const std::string& sender,
                      int interval_days, std::int64_t now) {
    auto fail = [&](const char* what) {
        std::string e = std::string("queue.db autoreply_sent: ") + what + ": " + sqlite3_errmsg(db);
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw std::runtime_error(e);
    };
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) fail("begin");
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT sent_at FROM autoreply_sent WHERE mailbox = ?1 AND sender = ?2",
                           -1, &st, nullptr) != SQLITE_OK)
        fail("prepare");
    sqlite3_bind_text(st, 1, mailbox.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sender.c_str(), -1, SQLITE_TRANSIENT);
    std::optional<std::int64_t> last;
    if (sqlite3_step(st) == SQLITE_ROW) last = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    // A clock that went back (last > now) counts as "just sent": never a burst of replies.
    if (last && now - *last < std::int64_t{interval_days} * 86400) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return false;
    }
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO autoreply_sent (mailbox, sender, sent_at) "
                               "VALUES (?1, ?2, ?3)", -1, &st, nullptr) != SQLITE_OK)
        fail("prepare");
    sqlite3_bind_text(st, 1, mailbox.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, sender.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, now);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) fail("insert");
    // Rows older than the longest interval (365 days) can never stop a reply again.
    sqlite3_stmt* del = nullptr;
    if (sqlite3_prepare_v2(db, "DELETE FROM autoreply_sent WHERE sent_at < ?1", -1, &del, nullptr) ==
        SQLITE_OK) {
        sqlite3_bind_int64(del, 1, now - 366 * 86400);
        sqlite3_step(del);
        sqlite3_finalize(del);
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) fail("commit");
    return true;
}

namespace {

struct job {
    std::shared_ptr<const queue::message> msg;
    std::vector<std::size_t> rcpts; // indexes of local recipients
};

// What the store's listener and the worker share; the listener may outlive the worker.
struct shared {
    std::mutex mu;
    std::condition_variable cv, idle_cv;
    std::deque<job> jobs;
    bool stopping = false;
    bool busy = false;
    std::size_t max_backlog = 10000;
};

class responder final : public autoresponder {
public:
    responder(queue::store& store, autoresponder_settings s)
        : store_(store), settings_(std::move(s)), sh_(std::make_shared<shared>()) {
        sh_->max_backlog = settings_.max_backlog;
    }
    ~responder() override { stop(); }

    void begin() {
        std::weak_ptr<shared> weak = sh_;
        store_.add_committed_listener(
            [weak](std::shared_ptr<const queue::message> m, std::vector<std::int64_t>) {
                on_committed(weak, std::move(m));
            });
        thread_ = std::thread([this] { run(); });
    }

    void stop() override {
        {
            std::lock_guard lk(sh_->mu);
            if (sh_->stopping && !thread_.joinable()) return;
            sh_->stopping = true;
            sh_->jobs.clear();
        }
        sh_->cv.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    bool wait_idle(std::chrono::milliseconds timeout) override {
        std::unique_lock lk(sh_->mu);
        return sh_->idle_cv.wait_for(lk, timeout, [&] { return sh_->jobs.empty() && !sh_->busy; });
    }
    std::uint64_t sent() const override { return sent_.load(); }
    std::uint64_t skipped() const override { return skipped_.load(); }

private:
    // On the store's writer thread: only a cheap filter and a hand-over.
    static void on_committed(const std::weak_ptr<shared>& weak, std::shared_ptr<const queue::message> m) {
        if (m->mail_from.empty()) return; // RFC 3834 §2: the null sender never gets a reply
        job j;
        for (std::size_t i = 0; i < m->rcpts.size(); ++i)
            if (m->rcpts[i].kind == queue::rcpt_kind::local) j.rcpts.push_back(i);
        if (j.rcpts.empty()) return;
        auto sh = weak.lock();
        if (!sh) return;
        {
            std::lock_guard lk(sh->mu);
            if (sh->stopping) return;
            if (sh->jobs.size() >= sh->max_backlog) {
                log::warn("autoreply_backlog_full", {{"queue_id", m->id}});
                return;
            }
            j.msg = std::move(m);
            sh->jobs.push_back(std::move(j));
        }
        sh->cv.notify_one();
    }

    void run() {
        for (;;) {
            job j;
            {
                std::unique_lock lk(sh_->mu);
                sh_->busy = false;
                if (sh_->jobs.empty()) sh_->idle_cv.notify_all();
                sh_->cv.wait(lk, [&] { return sh_->stopping || !sh_->jobs.empty(); });
                if (sh_->stopping) return;
                j = std::move(sh_->jobs.front());
                sh_->jobs.pop_front();
                sh_->busy = true;
            }
            try {
                handle(j);
            } catch (const std::exception& e) {
                log::error("autoreply_failed", {{"queue_id", j.msg->id}, {"error", e.what()}});
            }
        }
    }

    // Re-reads the enabled autoresponders when config.db changed (PRAGMA data_version).
    void refresh_config() {
        if (!cfg_) cfg_.emplace(settings_.config_db.string(), false);
        const auto v = cfg_->data_version();
        if (loaded_ && v == version_) return;
        std::map<std::string, config::autoreply_row> fresh;
        for (auto& r : config::list_autoreplies(*cfg_, true)) fresh.emplace(r.mailbox, r);
        rows_ = std::move(fresh);
        version_ = v;
        loaded_ = true;
    }

    void handle(const job& j) {
        refresh_config();
        if (rows_.empty()) return;
        const auto& m = *j.msg;
        const auto now_tp = std::chrono::system_clock::now();
        const std::int64_t now =
            std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count();
        for (std::size_t i : j.rcpts) {
            const auto& r = m.rcpts[i];
            auto it = rows_.find(r.deliver_to);
            if (it == rows_.end()) continue;
            const auto& cfg = it->second;
            autoreply_incoming in{m.mail_from, r.deliver_to, r.rcpt_to, m.body};
            auto why = screen(in, cfg, now);
            if (why == autoreply_skip::none && !claim(r.deliver_to, m.mail_from, cfg.interval_days, now))
                why = autoreply_skip::already_replied;
            if (why != autoreply_skip::none) {
                ++skipped_;
                log::info("autoreply_skipped", {{"queue_id", m.id}, {"mailbox", r.deliver_to},
                                                {"to", m.mail_from}, {"reason", to_string(why)}});
                continue;
            }
            send(in, cfg, now_tp, m.id);
        }
    }

    bool claim(const std::string& mailbox, const std::string& sender, int days, std::int64_t now) {
        auto result = std::make_shared<std::promise<bool>>();
        auto fut = result->get_future();
        const std::string s = bounce::mime::lower(sender);
        const bool posted = store_.run_on_writer([result, mailbox, s, days, now](sqlite3* db) {
            try {
                result->set_value(claim_reply_slot(db, mailbox, s, days, now));
            } catch (...) {
                result->set_exception(std::current_exception());
            }
        });
        if (!posted) throw std::runtime_error("the queue is stopped");
        if (fut.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
            throw std::runtime_error("queue.db did not answer within 30 s");
        return fut.get();
    }

    void send(const autoreply_incoming& in, const config::autoreply_row& cfg,
              std::chrono::system_clock::time_point now, const std::string& orig_id) {
        auto built = build_autoreply(in, cfg, now);
        queue::message reply;
        reply.id = queue::new_queue_id();
        // RFC 3834 §3.3: the null reverse-path, so that no responder answers the answer and a
        // failure of it does not bounce back into the mailbox (nobody would act on it).
        reply.mail_from = "";
        reply.helo = settings_.hostname;
        reply.client_ip = "127.0.0.1";
        reply.received_at =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        reply.body = std::move(built.message);
        reply.message_id_header = built.message_id;
        reply.rcpts = settings_.route ? settings_.route(in.envelope_sender)
                                      : std::vector<queue::recipient>{};
        const std::string mailbox = in.mailbox, to = in.envelope_sender, id = reply.id;
        if (reply.rcpts.empty()) {
            ++skipped_;
            log::warn("autoreply_undeliverable", {{"queue_id", orig_id}, {"mailbox", mailbox},
                                                  {"to", to}});
            return;
        }
        ++sent_;
        store_.enqueue(std::move(reply), [orig_id, mailbox, to, id](std::optional<std::string> err) {
            if (err)
                log::error("autoreply_enqueue_failed", {{"queue_id", orig_id}, {"mailbox", mailbox},
                                                        {"to", to}, {"error", *err}});
            else
                log::info("autoreply_sent", {{"queue_id", orig_id}, {"mailbox", mailbox},
                                             {"to", to}, {"reply_queue_id", id}});
        });
    }

    queue::store& store_;
    autoresponder_settings settings_;
    std::shared_ptr<shared> sh_;
    std::thread thread_;
    std::optional<config::config_db> cfg_; // worker thread only
    std::map<std::string, config::autoreply_row> rows_;
    std::int64_t version_ = 0;
    bool loaded_ = false;
    std::atomic<std::uint64_t> sent_{0}, skipped_{0};
};

} // namespace

std::unique_ptr<autoresponder> autoresponder::start(queue::store& store, autoresponder_settings s) {
    auto r = std::make_unique<responder>(store, std::move(s));
    r->begin();
    return r;
}

} // namespace cartero::local
