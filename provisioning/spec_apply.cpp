// provisioning/spec_apply.cpp — reconcile DIR/state, DIR/secrets and DIR/dns with a customer
// spec: create what is missing, update what differs, report what the spec no longer lists.
#include "provisioning/spec_apply.hpp"

#include "core/config_db.hpp"
#include "core/dkim_store.hpp"
#include "core/dns/resolver.hpp"
#include "core/dns_records.hpp"
#include "core/password.hpp"
#include "core/sending_store.hpp"
#include "core/size_parse.hpp"
#include "core/tls_cert.hpp"
#include "provisioning/state_dir.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace cartero::provision {
namespace {

bool exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
}

[[noreturn]] void sys_fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

void make_dir(const std::string& p, mode_t mode) {
    for (std::size_t pos = p.find('/', 1); pos != std::string::npos; pos = p.find('/', pos + 1)) {
        std::string parent = p.substr(0, pos);
        if (!exists(parent) && ::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
            sys_fail("cannot create " + parent);
    }
    if (!exists(p)) {
        if (::mkdir(p.c_str(), mode) != 0) sys_fail("cannot create " + p);
        if (::chmod(p.c_str(), mode) != 0) sys_fail("cannot chmod " + p);
    }
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// tmp + fsync + rename: readers see the old file or the new one, never half of one.
void write_file(const std::string& path, const std::string& data, mode_t mode) {
    std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) sys_fail("cannot create " + tmp);
    bool ok = ::fchmod(fd, mode) == 0;
    for (std::size_t off = 0; ok && off < data.size();) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = false;
        else off += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    int saved = errno;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        if (ok) saved = errno;
        ::unlink(tmp.c_str());
        errno = saved;
        sys_fail("cannot write " + path);
    }
}

// Writes only when the content differs (idempotence: unchanged files keep their mtime).
// Returns "created", "updated" or "" (unchanged).
std::string write_if_changed(const std::string& path, const std::string& data, mode_t mode) {
    auto old = read_file(path);
    if (old && *old == data) return {};
    write_file(path, data, mode);
    return old ? "updated" : "created";
}

// A password for a person to type once and change: 20 characters from an alphabet without
// look-alikes (0/O, 1/l/I), about 114 bits.
std::string random_password() {
    static constexpr char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    constexpr unsigned n = sizeof alphabet - 1; // 57
    std::string out;
    while (out.size() < 20) {
        unsigned char b[32];
        if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness for a password");
        for (unsigned char c : b)
            if (c < 256 - 256 % n && out.size() < 20) out += alphabet[c % n]; // no modulo bias
    }
    return out;
}

std::string algorithm_column(const std::string& spec_algorithm) {
    return std::string(dkim::to_string(spec_algorithm == "ed25519" ? dkim::key_algorithm::ed25519
                                                                   : dkim::key_algorithm::rsa));
}

std::string describe_quota(std::uint64_t q) {
    return q == 0 ? std::string("unlimited") : units::format_size(q);
}

// One-statement helpers for the admins table (no store owns it yet).
bool admin_exists(config::config_db& db, const std::string& username) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db.handle(), "SELECT 1 FROM admins WHERE username = ?1", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, username.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        throw std::runtime_error(std::string("config.db: ") + sqlite3_errmsg(db.handle()));
    return rc == SQLITE_ROW;
}

std::vector<std::string> list_admins(config::config_db& db) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db.handle(), "SELECT username FROM admins ORDER BY username", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW)
        out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    return out;
}

void add_admin(config::config_db& db, const std::string& username, const std::string& hash) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db.handle(), "INSERT INTO admins (username, password_hash) VALUES (?1, ?2)",
                       -1, &st, nullptr);
    sqlite3_bind_text(st, 1, username.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, hash.c_str(), -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        throw std::runtime_error(std::string("config.db: cannot add admin ") + username + ": " +
                                 sqlite3_errmsg(db.handle()));
}

class applier {
public:
    applier(const customer_spec& s, const std::string& out) : s_(s), out_(out) {}

    apply_report run() {
        make_dir(out_, 0750);
        make_dir(out_ + "/" + secrets_subdir, 0700);
        make_dir(out_ + "/" + dns_subdir, 0755);
        state_ = out_ + "/" + state_subdir;
        if (!exists(state_ + "/" + ctl::config_db_name)) {
            ctl::init_state_dir(state_, s_.server_hostname());
            change("created state dir " + std::string(state_subdir) + "/");
        }
        config::config_db db(state_ + "/" + ctl::config_db_name, false);
        settings(db);
        domains(db);
        sending(db);
        admin(db);
        mailboxes(db);
        forwarders(db);
        dkim_keys(db);
        certificate();
        dns_files(db);
        return std::move(report_);
    }

private:
    const customer_spec& s_;
    std::string out_, state_;
    apply_report report_;

    void change(std::string what) { report_.changes.push_back(std::move(what)); }
    void kept(std::string what) { report_.kept.push_back(std::move(what)); }

    std::string secret_path(const std::string& rel) const {
        return out_ + "/" + secrets_subdir + "/" + rel;
    }

    void settings(config::config_db& db) {
        const std::pair<const char*, std::string> wanted[] = {
            {"hostname", s_.server_hostname()}, {"postmaster", s_.postmaster},
            {"dmarc_policy", s_.dmarc_policy},  {"dmarc_rua", s_.dmarc_rua},
            {"tlsrpt_rua", s_.tlsrpt_rua},
        };
        for (const auto& [key, value] : wanted) {
            auto now = db.get_setting(key);
            if (now && *now == value) continue;
            db.set_setting(key, value);
            change("setting " + std::string(key) + ": " + (now ? *now + " → " : "") + value);
        }
    }

    void domains(config::config_db& db) {
        std::set<std::string> have;
        for (const auto& d : db.list_domains()) have.insert(d.name);
        auto want = s_.domains();
        for (const auto& d : want)
            if (!have.contains(d)) {
                db.add_domain(d);
                change("added domain " + d);
            }
        for (const auto& d : have)
            if (std::find(want.begin(), want.end(), d) == want.end())
                kept("domain " + d + " is not in the spec (kept; it may hold mail)");
    }

    void sending(config::config_db& db) {
        std::set<std::string> pools;
        for (const auto& p : config::list_pools(db)) pools.insert(p.name);
        std::set<std::string> wanted_pools;
        for (const auto& ip : s_.ips)
            if (!ip.pool.empty()) wanted_pools.insert(ip.pool);
        for (const auto& p : wanted_pools)
            if (!pools.contains(p)) {
                config::add_pool(db, p);
                change("added pool " + p);
            }

        std::map<std::string, std::optional<std::uint16_t>> pref;
        for (const auto& h : s_.hostnames) pref[h.name] = h.mx_preference;
        std::map<std::string, config::ip_row> have;
        for (auto& r : config::list_ips(db)) have.emplace(r.address, r);
        std::set<std::string> listed;
        for (const auto& ip : s_.ips) {
            config::ip_row want{ip.address, ip.family, ip.hostname, ip.pool, pref[ip.hostname]};
            listed.insert(ip.address);
            auto it = have.find(ip.address);
            if (it == have.end()) {
                config::add_ip(db, want);
                change("added ip " + ip.address + " (" + ip.hostname + ")");
                continue;
            }
            const auto& now = it->second;
            std::string diff;
            auto pr = [](const std::optional<std::uint16_t>& p) {
                return p ? std::to_string(*p) : std::string("none");
            };
            if (now.hostname != want.hostname) diff += ", hostname " + now.hostname + " → " + want.hostname;
            if (now.pool != want.pool)
                diff += ", pool " + (now.pool.empty() ? "none" : now.pool) + " → " +
                        (want.pool.empty() ? "none" : want.pool);
            if (now.mx_preference != want.mx_preference)
                diff += ", mx preference " + pr(now.mx_preference) + " → " + pr(want.mx_preference);
            if (diff.empty()) continue;
            config::update_ip(db, want);
            change("updated ip " + ip.address + ":" + diff.substr(1));
        }
        // The spec owns the IPs: one it no longer lists must leave SPF and the MX set.
        for (const auto& [addr, row] : have)
            if (!listed.contains(addr)) {
                config::remove_ip(db, addr);
                change("removed ip " + addr + " (not in the spec)");
            }
        for (const auto& p : pools)
            if (!wanted_pools.contains(p)) kept("pool " + p + " is not in the spec (kept)");

        auto relay = config::get_relayhost(db);
        if (s_.smarthost) {
            config::relayhost_row want{s_.smarthost->host, s_.smarthost->port};
            if (!relay || relay->next_hop != want.next_hop || relay->port != want.port) {
                config::set_relayhost(db, want);
                change("smarthost: " + want.next_hop + ":" + std::to_string(want.port));
            }
        } else if (relay) {
            config::clear_relayhost(db);
            change("removed smarthost " + relay->next_hop + ":" + std::to_string(relay->port) +
                   " (not in the spec)");
        }
    }

    void admin(config::config_db& db) {
        if (!admin_exists(db, s_.admin_email)) {
            std::string pw = random_password();
            // The file first: a password that reached config.db but not the file would be lost.
            write_file(secret_path("admin-password"), pw + "\n", 0600);
            add_admin(db, s_.admin_email, password::hash_password(pw));
            change("added admin " + s_.admin_email + " (password in " + secret_path("admin-password") + ")");
        }
        for (const auto& a : list_admins(db))
            if (a != s_.admin_email) kept("admin " + a + " is not the spec's admin_email (kept)");
    }

    void mailboxes(config::config_db& db) {
        std::map<std::string, config::mailbox_row> have;
        for (auto& m : db.list_mailboxes()) have.emplace(m.address, m);
        std::set<std::string> listed;
        for (const auto& m : s_.mailboxes) {
            listed.insert(m.address);
            auto it = have.find(m.address);
            if (it == have.end()) {
                make_dir(secret_path("mailboxes"), 0700);
                std::string pw = random_password();
                write_file(secret_path("mailboxes/" + m.address), pw + "\n", 0600);
                db.add_mailbox(m.address, pw, m.quota_bytes);
                change("added mailbox " + m.address + " (password in " +
                       secret_path("mailboxes/" + m.address) + ")");
            } else if (it->second.quota_bytes != m.quota_bytes) {
                db.set_quota(m.address, m.quota_bytes);
                change("updated mailbox " + m.address + ": quota " +
                       describe_quota(it->second.quota_bytes) + " → " + describe_quota(m.quota_bytes));
            }
        }
        for (const auto& [a, row] : have)
            if (!listed.contains(a)) kept("mailbox " + a + " is not in the spec (kept with its mail)");
    }

    void forwarders(config::config_db& db) {
        std::map<std::string, std::vector<std::string>> have;
        for (auto& f : db.list_forwarders()) have.emplace(f.source, f.destinations);
        std::set<std::string> listed;
        for (const auto& f : s_.forwarders) {
            listed.insert(f.source);
            auto it = have.find(f.source);
            if (it == have.end()) {
                db.add_forwarder(f.source, f.to);
                change("added forwarder " + f.source);
                continue;
            }
            std::set<std::string> now(it->second.begin(), it->second.end());
            std::set<std::string> want(f.to.begin(), f.to.end());
            if (now == want) continue;
            // The spec names this source, so it owns its destinations: replace them.
            db.remove_forwarder(f.source);
            db.add_forwarder(f.source, f.to);
            change("updated forwarder " + f.source);
        }
        for (const auto& [src, dests] : have)
            if (!listed.contains(src)) kept("forwarder " + src + " is not in the spec (kept)");
    }

    void dkim_keys(config::config_db& db) {
        std::set<std::pair<std::string, std::string>> have;
        for (const auto& k : config::list_dkim_keys(db)) have.emplace(k.domain, k.selector);
        std::set<std::pair<std::string, std::string>> wanted;
        for (const auto& d : s_.domains())
            for (const auto& k : s_.dkim) {
                wanted.emplace(d, k.selector);
                if (have.contains({d, k.selector})) continue;
                config::generate_dkim_key(db, state_, d, k.selector,
                                          k.algorithm == "ed25519" ? dkim::key_algorithm::ed25519
                                                                   : dkim::key_algorithm::rsa);
                change("added DKIM key " + k.selector + "._domainkey." + d + " (" + k.algorithm + ")");
            }
        for (const auto& [d, sel] : have)
            if (!wanted.contains({d, sel}))
                kept("DKIM key " + sel + "._domainkey." + d + " is not in the spec (kept, still published)");
    }

    void certificate() {
        // Every host name of the spec, the server's own name first (the CN).
        std::vector<std::string> names{s_.server_hostname()};
        for (const auto& h : s_.hostnames)
            if (h.name != names.front()) names.push_back(h.name);
        const std::string cert = state_ + "/tls/cert.pem", key = state_ + "/tls/key.pem";
        auto info = tls::read_certificate(cert);
        std::set<std::string> have;
        if (info) have.insert(info->dns_names.begin(), info->dns_names.end());
        std::vector<std::string> missing;
        for (const auto& n : names)
            if (!have.contains(n)) missing.push_back(n);
        if (info && missing.empty()) return;
        if (info && !info->self_signed) {
            // An operator's CA-issued certificate is never replaced by a self-signed one.
            std::string m;
            for (const auto& n : missing) m += (m.empty() ? "" : ", ") + n;
            kept("tls/cert.pem is not self-signed and does not cover " + m + " (kept; replace it)");
            return;
        }
        tls::write_self_signed(names, cert, key);
        std::string all;
        for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
        change("state/tls/cert.pem: new self-signed certificate for " + all);
    }

    void dns_files(config::config_db& db) {
        const std::string dir = out_ + "/" + dns_subdir + "/";
        std::vector<dns::dns_record> all;
        auto put = [&](const std::string& name, const std::string& text) {
            if (auto what = write_if_changed(dir + name, text, 0644); !what.empty())
                change(std::string(dns_subdir) + "/" + name + ": " + what);
        };
        for (const auto& d : db.list_domains()) {
            auto in = dns::load_zone_inputs(db, d.name);
            auto records = dns::generate_records(in);
            put(d.name + ".zone", dns::render_zone(d.name, records, in.ttl));
            std::string policy = dns::mta_sts_policy_for(in);
            std::string policy_file = "mta-sts." + d.name + ".txt";
            if (!policy.empty()) put(policy_file, policy);
            else if (exists(dir + policy_file) && ::unlink((dir + policy_file).c_str()) == 0)
                change(std::string(dns_subdir) + "/" + policy_file + ": removed (no MX host)");
            all.insert(all.end(), records.begin(), records.end());
        }
        std::vector<dns::host_ip> ips;
        for (const auto& r : config::list_ips(db))
            ips.push_back({r.address, r.family, r.hostname, !r.pool.empty(), r.mx_preference});
        put("ptr-requests.txt", dns::render_ptr_requests(ips, s_.customer));
        put("records.json", dns::render_json(all));
        put("records.csv", dns::render_csv(all));
    }
};

} // namespace

std::vector<std::string> check_against_state(const customer_spec& spec, const std::string& out_dir) {
    std::vector<std::string> errors;
    std::string path = out_dir + "/" + state_subdir + "/" + ctl::config_db_name;
    if (!exists(path)) return errors;
    config::config_db db(path, false);
    std::map<std::pair<std::string, std::string>, std::string> algs;
    for (const auto& k : config::list_dkim_keys(db)) algs[{k.domain, k.selector}] = k.algorithm;
    for (std::size_t i = 0; i < spec.dkim.size(); ++i)
        for (const auto& d : spec.domains()) {
            auto it = algs.find({d, spec.dkim[i].selector});
            if (it != algs.end() && it->second != algorithm_column(spec.dkim[i].algorithm))
                errors.push_back("dkim[" + std::to_string(i) + "].algorithm: selector " +
                                 spec.dkim[i].selector + " of " + d + " already has a key of algorithm " +
                                 it->second + "; keys are never replaced: use a new selector");
        }
    std::set<std::string> boxes, sources;
    for (const auto& m : db.list_mailboxes()) boxes.insert(m.address);
    for (const auto& f : db.list_forwarders()) sources.insert(f.source);
    for (std::size_t i = 0; i < spec.mailboxes.size(); ++i)
        if (sources.contains(spec.mailboxes[i].address))
            errors.push_back("mailboxes[" + std::to_string(i) + "].address: " +
                             spec.mailboxes[i].address + " is a forwarder in " + out_dir +
                             "/state; remove it there first (carteroctl forwarder remove)");
    for (std::size_t i = 0; i < spec.forwarders.size(); ++i)
        if (boxes.contains(spec.forwarders[i].source))
            errors.push_back("forwarders[" + std::to_string(i) + "].source: " +
                             spec.forwarders[i].source + " is a mailbox in " + out_dir +
                             "/state; an address is one or the other");
    return errors;
}

apply_report apply_spec(const customer_spec& spec, const std::string& out_dir) {
    return applier(spec, out_dir).run();
}

} // namespace cartero::provision
