// daemon/mailauth/message_auth.cpp — the DNS adapter with a deadline, and SPF → DKIM → DMARC.
#include "daemon/mailauth/message_auth.hpp"

#include "core/dns/query_name.hpp"

#include <future>
#include <memory>

namespace cartero::mailauth {

namespace {

using clock = std::chrono::steady_clock;

// Blocking lookups bounded by one deadline for the whole message: async_lookup + wait_for, so a
// server that never answers costs at most the time that is left.
class budgeted_dns {
  public:
    budgeted_dns(dns::resolver& r, clock::time_point deadline) : r_(r), deadline_(deadline) {}

    // nullopt: the name cannot be asked at all (treated as nonexistent by the callers).
    std::optional<dns::answer> ask(std::string_view name, dns::rr_type type) {
        if (!dns::query_name(name).ok) return std::nullopt;
        auto left = deadline_ - clock::now();
        if (left <= clock::duration::zero()) {
            exhausted = true;
            dns::answer a;
            a.st = dns::status::timeout;
            return a;
        }
        auto p = std::make_shared<std::promise<dns::answer>>();
        auto f = p->get_future();
        r_.async_lookup(name, type, [p](dns::answer a) { p->set_value(std::move(a)); });
        if (f.wait_for(left) != std::future_status::ready) {
            exhausted = true;
            dns::answer a;
            a.st = dns::status::timeout;
            return a; // the callback still completes later; the promise is shared
        }
        return f.get();
    }

    bool exhausted = false;

  private:
    dns::resolver& r_;
    clock::time_point deadline_;
};

spf_dns_reply to_spf(const std::optional<dns::answer>& a, spf_query type) {
    spf_dns_reply r;
    if (!a) {
        r.status = spf_dns_reply::status::nxdomain;
        return r;
    }
    switch (a->st) {
    case dns::status::ok: break;
    case dns::status::nxdomain: r.status = spf_dns_reply::status::nxdomain; return r;
    case dns::status::nodata: return r;
    default: r.status = spf_dns_reply::status::temporary; return r;
    }
    if (type == spf_query::mx) {
        for (const auto& m : dns::parse_mx(*a)) r.records.push_back(m.host);
    } else {
        r.records = a->records;
    }
    return r;
}

dns::rr_type rr_of(spf_query q) {
    switch (q) {
    case spf_query::txt: return dns::rr_type::txt;
    case spf_query::a: return dns::rr_type::a;
    case spf_query::aaaa: return dns::rr_type::aaaa;
    case spf_query::mx: return dns::rr_type::mx;
    case spf_query::ptr: return dns::rr_type::ptr;
    }
    return dns::rr_type::txt;
}

key_lookup_result to_txt(const std::optional<dns::answer>& a) {
    key_lookup_result r;
    if (!a || a->st == dns::status::nxdomain || a->st == dns::status::nodata) return r;
    if (a->st != dns::status::ok) {
        r.status = key_lookup_result::status::temporary;
        return r;
    }
    r.status = key_lookup_result::status::ok;
    r.txt = a->records;
    return r;
}

} // namespace

std::string message_auth_result::spf_word() const {
    return std::string(to_string(spf_mail_from.result));
}

std::string message_auth_result::dkim_word() const {
    if (dkim.empty()) return "none";
    static const dkim_status order[] = {dkim_status::pass, dkim_status::fail,
                                        dkim_status::temperror, dkim_status::permerror,
                                        dkim_status::neutral};
    for (auto s : order)
        for (const auto& d : dkim)
            if (d.status == s) return std::string(to_string(s));
    return "none";
}

message_auth_result authenticate_message(dns::resolver& resolver, std::string_view message,
                                         const message_auth_request& rq) {
    budgeted_dns dns(resolver, clock::now() + rq.budget);
    message_auth_result out;

    spf_checker spf([&dns](std::string_view name, spf_query type) {
        return to_spf(dns.ask(name, rr_of(type)), type);
    });
    spf_request sr;
    sr.ip = rq.client_ip;
    sr.mail_from = rq.mail_from;
    sr.helo = rq.helo;
    sr.receiver = rq.hostname;
    sr.now = rq.now;
    out.spf_mail_from = spf.check_mail_from(sr);
    if (!rq.mail_from.empty()) out.spf_helo = spf.check_helo(sr);
    else out.spf_helo = out.spf_mail_from; // §2.4: for <> the MAIL FROM check is the HELO one

    key_lookup txt = [&dns](std::string_view name) {
        return to_txt(dns.ask(name, dns::rr_type::txt));
    };
    verifier dkim(txt);
    out.dkim = dkim.verify(message, rq.now);

    dmarc_input di;
    auto froms = from_domains(message);
    di.from_domains = static_cast<int>(froms.size());
    // Several addresses of one domain are one author domain.
    if (froms.size() > 1) {
        bool same = true;
        for (const auto& f : froms) same = same && f == froms[0];
        if (same) di.from_domains = 1;
    }
    if (!froms.empty()) di.from_domain = froms[0];
    di.spf = out.spf_mail_from.result;
    di.spf_domain = out.spf_mail_from.domain;
    di.dkim = out.dkim;
    di.message_key = rq.message_key;
    out.dmarc = evaluate_dmarc(di, txt);

    auth_results_input ar;
    ar.authserv_id = rq.hostname;
    ar.mail_from = rq.mail_from;
    ar.helo = rq.helo;
    ar.spf_mail_from = out.spf_mail_from;
    ar.spf_helo = out.spf_helo;
    ar.dkim = out.dkim;
    ar.dmarc = out.dmarc;
    out.header = render_auth_results(ar);
    out.budget_exhausted = dns.exhausted;
    return out;
}

} // namespace cartero::mailauth
