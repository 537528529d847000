// daemon/policy/greylist.cpp — the greylisting decision and its in-memory triplet table.
#include "daemon/policy/greylist.hpp"

#include "daemon/policy/network_list.hpp"

#include "core/log.hpp"

#include <arpa/inet.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <future>
#include <stdexcept>

namespace cartero::policy {

namespace {

std::string lower(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

std::string domain_of(std::string_view address) {
    auto at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : lower(address.substr(at + 1));
}

const config::greylist_domain_row& defaults() {
    static const config::greylist_domain_row d{};
    return d;
}

} // namespace

greylist::greylist(clock_fn now, persist_fn persist, std::size_t max_entries)
    : now_(std::move(now)), persist_(std::move(persist)), max_entries_(max_entries),
      cfg_(std::make_shared<const config::greylist_config>()) {}

void greylist::set_config(std::shared_ptr<const config::greylist_config> cfg) {
    std::lock_guard lk(mu_);
    cfg_ = cfg ? std::move(cfg) : std::make_shared<const config::greylist_config>();
}

void greylist::load(std::vector<greylist_entry> rows) {
    std::lock_guard lk(mu_);
    entries_.clear();
    nets_.clear();
    for (auto& r : rows) {
        touch_net(r);
        auto k = key(r);
        entries_[std::move(k)] = std::move(r);
    }
}

std::string greylist::key(const greylist_entry& e) {
    std::string k = e.client_net;
    k += '\0';
    k += e.sender;
    k += '\0';
    k += e.recipient;
    return k;
}

void greylist::touch_net(const greylist_entry& e) {
    if (e.passed_at == 0) return;
    auto& n = nets_[e.client_net];
    n.last_pass = std::max(n.last_pass, e.last_seen);
}

const config::greylist_domain_row& greylist::settings_for(std::string_view recipient) const {
    auto it = cfg_->domains.find(domain_of(recipient));
    return it == cfg_->domains.end() ? defaults() : it->second;
}

std::string greylist::client_network(std::string_view ip) {
    const std::string text(ip);
    std::array<unsigned char, 16> b{};
    char out[INET6_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET, text.c_str(), b.data()) == 1) {
        b[3] = 0;
        inet_ntop(AF_INET, b.data(), out, sizeof out);
        return std::string(out) + "/24";
    }
    if (inet_pton(AF_INET6, text.c_str(), b.data()) != 1) return {};
    static constexpr std::array<unsigned char, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(mapped.begin(), mapped.end(), b.begin())) {
        std::array<unsigned char, 4> v4{b[12], b[13], b[14], 0};
        inet_ntop(AF_INET, v4.data(), out, sizeof out);
        return std::string(out) + "/24";
    }
    std::fill(b.begin() + 8, b.end(), 0);
    inet_ntop(AF_INET6, b.data(), out, sizeof out);
    return std::string(out) + "/64";
}

std::optional<reply> greylist::check(std::string_view client_ip, std::string_view sender_raw,
                                     std::string_view recipient_raw) {
    const std::string recipient = lower(recipient_raw), sender = lower(sender_raw);
    std::vector<greylist_change> changes;
    std::optional<reply> answer;
    {
        std::lock_guard lk(mu_);
        const auto dom = cfg_->domains.find(domain_of(recipient));
        if (dom == cfg_->domains.end() || !dom->second.enabled) return std::nullopt;
        const auto& s = dom->second;
        if (!cfg_->networks.empty() && network_list(cfg_->networks).contains(client_ip))
            return std::nullopt;
        // The sender's domain or any parent of it ("example.org" covers "mx.example.org").
        for (std::string d = domain_of(sender); !d.empty();) {
            if (cfg_->sender_domains.count(d)) return std::nullopt;
            auto dot = d.find('.');
            d = dot == std::string::npos ? std::string() : d.substr(dot + 1);
        }
        const std::string net = client_network(client_ip);
        if (net.empty()) return std::nullopt; // not an IP peer (never on a listener): no triplet
        const std::int64_t now = now_();
        const std::int64_t expiry = std::int64_t{s.expiry_days} * 86400;
        greylist_entry probe{net, sender, recipient, now, now, 0};
        const std::string k = key(probe);
        auto it = entries_.find(k);
        const auto n = nets_.find(net);
        const bool net_passed = n != nets_.end() && n->second.last_pass >= now - expiry;

        auto remember = [&](greylist_entry e) {
            touch_net(e);
            changes.push_back({e, false});
            entries_[k] = std::move(e);
        };
        auto refuse = [&](std::int64_t wait) {
            answer = reply(451, "4.7.1", "greylisted, try again in " + std::to_string(wait) +
                                             " seconds");
        };

        if (it != entries_.end() && it->second.passed_at > 0 &&
            it->second.last_seen >= now - expiry) {
            // Passed before: accept; the row's last_seen is refreshed at most hourly (one
            // write per RCPT would only churn queue.db).
            if (now - it->second.last_seen >= 3600) {
                auto e = it->second;
                e.last_seen = now;
                remember(std::move(e));
            }
        } else if (net_passed) {
            probe.passed_at = now;
            if (it != entries_.end()) probe.first_seen = it->second.first_seen;
            if (it != entries_.end() || entries_.size() < max_entries_) remember(probe);
        } else if (it == entries_.end() || it->second.passed_at > 0 ||
                   now - it->second.first_seen > s.retry_window_seconds) {
            // New, expired after passing, or retried too late: start over.
            if (it == entries_.end() && entries_.size() >= max_entries_) return std::nullopt;
            remember(probe);
            refuse(s.delay_seconds);
        } else if (now - it->second.first_seen < s.delay_seconds) {
            auto e = it->second;
            e.last_seen = now;
            const std::int64_t wait = s.delay_seconds - (now - e.first_seen);
            remember(std::move(e));
            refuse(wait);
        } else {
            auto e = it->second;
            e.last_seen = now;
            e.passed_at = now;
            remember(std::move(e));
        }
    }
    if (!changes.empty() && persist_) persist_(std::move(changes));
    return answer;
}

std::size_t greylist::expire() {
    std::vector<greylist_change> changes;
    {
        std::lock_guard lk(mu_);
        const std::int64_t now = now_();
        for (auto it = entries_.begin(); it != entries_.end();) {
            const auto& e = it->second;
            const auto& s = settings_for(e.recipient);
            const bool stale = e.passed_at > 0
                                   ? e.last_seen < now - std::int64_t{s.expiry_days} * 86400
                                   : e.first_seen < now - s.retry_window_seconds;
            if (stale) {
                changes.push_back({e, true});
                it = entries_.erase(it);
            } else {
                ++it;
            }
        }
        nets_.clear();
        for (const auto& [k, e] : entries_) touch_net(e);
    }
    const std::size_t n = changes.size();
    if (n && persist_) persist_(std::move(changes));
    return n;
}

std::size_t greylist::size() const {
    std::lock_guard lk(mu_);
    return entries_.size();
}

bool greylist::full() const {
    std::lock_guard lk(mu_);
    return entries_.size() >= max_entries_;
}

namespace {

void save(sqlite3* db, const std::vector<greylist_change>& changes) {
    if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) return;
    sqlite3_stmt* up = nullptr;
    sqlite3_stmt* del = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT OR REPLACE INTO greylist (client_net, sender, recipient, first_seen, "
                       "last_seen, passed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       -1, &up, nullptr);
    sqlite3_prepare_v2(db, "DELETE FROM greylist WHERE client_net = ?1 AND sender = ?2 AND recipient = ?3",
                       -1, &del, nullptr);
    bool ok = up && del;
    for (const auto& c : changes) {
        if (!ok) break;
        sqlite3_stmt* st = c.erase ? del : up;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, c.row.client_net.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, c.row.sender.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, c.row.recipient.c_str(), -1, SQLITE_TRANSIENT);
        if (!c.erase) {
            sqlite3_bind_int64(st, 4, c.row.first_seen);
            sqlite3_bind_int64(st, 5, c.row.last_seen);
            sqlite3_bind_int64(st, 6, c.row.passed_at);
        }
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(up);
    sqlite3_finalize(del);
    if (!ok) log::error("greylist_save_failed", {{"error", sqlite3_errmsg(db)}});
    sqlite3_exec(db, ok ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr);
}

} // namespace

std::vector<greylist_entry> load_greylist_rows(queue::store& store) {
    auto done = std::make_shared<std::promise<std::vector<greylist_entry>>>();
    auto fut = done->get_future();
    const bool posted = store.run_on_writer([done](sqlite3* db) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT client_net, sender, recipient, first_seen, last_seen, "
                                   "passed_at FROM greylist", -1, &st, nullptr) != SQLITE_OK) {
            done->set_exception(std::make_exception_ptr(
                std::runtime_error(std::string("queue.db greylist: ") + sqlite3_errmsg(db))));
            return;
        }
        std::vector<greylist_entry> rows;
        auto text = [&](int i) {
            auto p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
            return p ? std::string(p) : std::string();
        };
        while (sqlite3_step(st) == SQLITE_ROW)
            rows.push_back({text(0), text(1), text(2), sqlite3_column_int64(st, 3),
                            sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5)});
        sqlite3_finalize(st);
        done->set_value(std::move(rows));
    });
    if (!posted) throw std::runtime_error("queue.db greylist: the queue is stopped");
    return fut.get();
}

greylist::persist_fn queue_persister(queue::store& store) {
    return [&store](std::vector<greylist_change> changes) {
        auto batch = std::make_shared<const std::vector<greylist_change>>(std::move(changes));
        store.run_on_writer([batch](sqlite3* db) { save(db, *batch); });
    };
}

} // namespace cartero::policy
