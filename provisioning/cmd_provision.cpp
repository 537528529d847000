// provisioning/cmd_provision.cpp — carteroctl's "provision" command (customer spec → DIR) and
// "dns" group (records: what config.db says should be published; check: what is published).
#include "core/address_norm.hpp"
#include "core/dns/resolver.hpp"
#include "core/dns_records.hpp"
#include "core/sending_store.hpp"
#include "provisioning/cli_common.hpp"
#include "provisioning/spec.hpp"
#include "provisioning/spec_apply.hpp"

#include <algorithm>
#include <iostream>
#include <set>

namespace cartero::ctl {
namespace {

struct provision_options {
    std::string spec;
    std::string out;
    std::string domain;
    std::string format = "zone";
    std::string resolver;
};

void cmd_provision(const provision_options& o) {
    auto r = provision::load_spec(o.spec);
    if (r.ok()) r.errors = provision::check_against_state(r.spec, o.out);
    if (!r.ok()) {
        // Every error, one per line, then the summary main() prints: the operator fixes all
        // of them in one pass. Nothing has been written.
        for (const auto& e : r.errors) std::cerr << "carteroctl: " << o.spec << ": " << e << '\n';
        throw std::runtime_error(std::to_string(r.errors.size()) +
                                 (r.errors.size() == 1 ? " error" : " errors") + " in " + o.spec +
                                 "; nothing was written");
    }
    auto report = provision::apply_spec(r.spec, o.out);
    for (const auto& c : report.changes) std::cout << c << '\n';
    if (report.changes.empty()) std::cout << "no changes\n";
    for (const auto& k : report.kept) std::cout << "note: " << k << '\n';
}

std::string domain_arg(const std::string& raw) {
    auto d = names::normalize_domain(raw);
    if (!d) throw usage_error("DOMAIN: " + d.error);
    return d.value;
}

void cmd_dns_records(const cli_context& ctx, const provision_options& o) {
    auto db = ctx.open_config();
    std::string domain = domain_arg(o.domain);
    auto in = dns::load_zone_inputs(db, domain);
    auto records = dns::generate_records(in);
    if (o.format == "json") std::cout << dns::render_json(records);
    else if (o.format == "csv") std::cout << dns::render_csv(records);
    else std::cout << dns::render_zone(domain, records, in.ttl);
}

// What a lookup found for one expected record: ok, missing or different (with what was found).
struct verdict {
    std::string state; // "ok", "missing", "different", "error"
    std::string found;
};

std::string lower(std::string s) { return names::ascii_lower(s); }

// The found values that are "about the same thing" as the expected one, so that a different
// SPF is "different" while an unrelated TXT (site verification) at the same name is ignored.
bool related(const dns::dns_record& want, const std::string& got) {
    if (want.type != "TXT") return true;
    auto tag = want.value.substr(0, want.value.find(';'));
    tag = tag.substr(0, tag.find(' '));
    return lower(got).starts_with(lower(tag));
}

bool same(const dns::dns_record& want, const std::string& got) {
    if (want.type == "TXT") return want.value == got;
    // Names in MX/SRV/CNAME/PTR values are case-insensitive (RFC 4343); IPv6 text is canonical
    // on both sides (RFC 5952 from the resolver, inet_ntop here).
    return lower(want.value) == lower(got);
}

verdict check_one(dns::resolver& res, const dns::dns_record& want) {
    static const std::pair<const char*, dns::rr_type> types[] = {
        {"A", dns::rr_type::a},     {"AAAA", dns::rr_type::aaaa}, {"MX", dns::rr_type::mx},
        {"TXT", dns::rr_type::txt}, {"SRV", dns::rr_type::srv},   {"CNAME", dns::rr_type::cname},
        {"PTR", dns::rr_type::ptr}};
    auto t = std::find_if(std::begin(types), std::end(types),
                          [&](const auto& p) { return want.type == p.first; });
    if (t == std::end(types)) return {"error", "record type not checked"};
    auto a = res.lookup(want.name, t->second);
    if (a.st == dns::status::nxdomain || a.st == dns::status::nodata) return {"missing", ""};
    if (!a.ok()) return {"error", std::string(dns::to_string(a.st)) + (a.why.empty() ? "" : ": " + a.why)};
    std::string found;
    bool any_related = false;
    for (const auto& got : a.records) {
        if (same(want, got)) return {"ok", ""};
        if (!related(want, got)) continue;
        any_related = true;
        found += (found.empty() ? "" : " | ") + got;
    }
    return any_related ? verdict{"different", found} : verdict{"missing", ""};
}

std::string show_value(const dns::dns_record& r) {
    return r.type == "TXT" ? "\"" + r.value + "\"" : r.value;
}

void cmd_dns_check(const cli_context& ctx, const provision_options& o) {
    auto db = ctx.open_config();
    std::string domain = domain_arg(o.domain);
    auto records = dns::expected_records(db, domain);
    dns::resolver_settings settings;
    settings.forward_to = o.resolver;
    auto res = dns::make_resolver(settings);

    int problems = 0, warnings = 0, ok = 0;
    auto print = [&](const std::string& state, const dns::dns_record& r, const std::string& extra) {
        std::string st = state;
        st.resize(std::max<std::size_t>(st.size(), 9), ' ');
        std::string type = r.type;
        type.resize(std::max<std::size_t>(type.size(), 5), ' ');
        std::cout << st << " " << type << " " << r.name << "  " << show_value(r)
                  << (r.required ? "" : "  [recommended]") << extra << '\n';
    };
    for (const auto& r : records) {
        auto v = check_one(*res, r);
        if (v.state == "ok") ++ok;
        else if (r.required) ++problems;
        else ++warnings;
        print(v.state, r, v.found.empty()         ? ""
                          : v.state == "error" ? "  (" + v.found + ")"
                                               : "  found: " + v.found);
    }

    // PTR of each IP, forward-confirmed (FCrDNS): the PTR name must resolve back to the IP,
    // as receivers check before trusting an EHLO name.
    for (const auto& r : config::list_ips(db)) {
        // Only the addresses whose host name belongs to this domain's zone tree are checked
        // with it, so each IP is checked with the domain that holds its A/AAAA record.
        bool ours = r.hostname == domain || r.hostname.ends_with("." + domain);
        if (!ours) continue;
        dns::dns_record ptr{dns::reverse_name(r.address), "PTR", 3600, r.hostname + ".", true,
                            "reverse DNS of " + r.address};
        auto v = check_one(*res, ptr);
        std::string extra = v.found.empty()         ? ""
                            : v.state == "error" ? "  (" + v.found + ")"
                                                 : "  found: " + v.found;
        if (v.state == "ok") {
            auto fwd = res->lookup(r.hostname, r.family == 6 ? dns::rr_type::aaaa : dns::rr_type::a);
            bool confirmed = fwd.ok() && std::find(fwd.records.begin(), fwd.records.end(),
                                                   r.address) != fwd.records.end();
            if (!confirmed) {
                v.state = "different";
                extra = "  (not forward-confirmed: " + r.hostname + " does not resolve to " +
                        r.address + ")";
            } else {
                extra = "  (forward-confirmed)";
            }
        }
        if (v.state == "ok") ++ok;
        else ++problems;
        print(v.state, ptr, extra);
    }
    std::cout << ok << " ok, " << problems << " required record(s) missing or wrong, " << warnings
              << " recommended record(s) missing or wrong\n";
    if (problems > 0)
        throw std::runtime_error("DNS for " + domain + ": " + std::to_string(problems) +
                                 " required record(s) missing or wrong");
}

} // namespace

void register_provision_commands(CLI::App& app, cli_context& ctx) {
    static provision_options o; // lives as long as the CLI (main's lifetime)

    auto* prov = command(&app, "provision",
                         "create or update DIR from a customer spec: state dir, secrets, DNS "
                         "zone files (see provisioning/README.md)",
                         ctx, [&] { cmd_provision(o); });
    prov->add_option("SPEC", o.spec, "customer spec (YAML)")->required()->type_name("FILE");
    prov->add_option("--out", o.out, "output directory (state/, secrets/, dns/)")
        ->required()
        ->type_name("DIR");

    auto* dns = app.add_subcommand("dns", "DNS records: what to publish and what is published");
    dns->require_subcommand(1);
    auto* rec = command(dns, "records", "print the records DOMAIN needs (zone-file lines)", ctx,
                        [&] { cmd_dns_records(ctx, o); });
    rec->add_option("DOMAIN", o.domain, "a local domain")->required();
    rec->add_option("--format", o.format, "zone (default), json or csv")
        ->check(CLI::IsMember({"zone", "json", "csv"}));
    auto* chk = command(dns, "check",
                        "look up every record DOMAIN needs and the PTR of each IP; exit 1 when "
                        "a required one is missing or wrong",
                        ctx, [&] { cmd_dns_check(ctx, o); });
    chk->add_option("DOMAIN", o.domain, "a local domain")->required();
    chk->add_option("--resolver", o.resolver,
                    "ask this server (ADDR:PORT, [v6]:PORT) instead of the system resolver")
        ->type_name("ADDR:PORT");
}

} // namespace cartero::ctl
