// provisioning/cmd_dkim.cpp — carteroctl's "dkim" command group: generate keys, print their DNS
// TXT records, list, enable, disable and remove them.
#include "core/dkim_key.hpp"
#include "core/dkim_store.hpp"
#include "provisioning/cli_common.hpp"

#include <ctime>
#include <iostream>
#include <memory>
#include <unistd.h>

namespace cartero::ctl {
namespace {

struct dkim_options {
    std::string domain;
    std::string selector;
    std::string algorithm = "rsa";
};

// "cartero" + yyyymm (UTC), with "e" for Ed25519 so both kinds can be published the same month
// (RSA and Ed25519 side by side, RFC 8463 §6 suggests dual signing).
std::string default_selector(dkim::key_algorithm alg) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::snprintf(buf, sizeof buf, "cartero%04d%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
                  alg == dkim::key_algorithm::ed25519 ? "e" : "");
    return buf;
}

// One zone-file line: owner, class, type, and the value split into character-strings of at most
// 255 octets (RFC 1035 §3.3.14; RFC 6376 §3.6.2.2 has the verifier join them again).
std::string zone_line(const config::dkim_key_row& k) {
    auto alg =
        k.algorithm == "ed25519-sha256" ? dkim::key_algorithm::ed25519 : dkim::key_algorithm::rsa;
    std::string value = dkim::dns_record_value(alg, k.public_key);
    std::string line = k.selector + "._domainkey." + k.domain + ". IN TXT (";
    // The tags before p= in one string, then p= in as few strings as fit.
    auto p = value.find("p=");
    line += " \"" + value.substr(0, p) + "\"";
    for (std::size_t at = p; at < value.size(); at += 255)
        line += " \"" + value.substr(at, 255) + "\"";
    return line + " )";
}

config::dkim_key_row find_key(config::config_db& db, const dkim_options& o) {
    for (auto& k : config::list_dkim_keys(db, o.domain))
        if (k.selector == o.selector) return k;
    throw config::config_error(config::config_error::kind::not_found,
                               "no DKIM key " + o.selector + " for " + o.domain +
                                   " (see: carteroctl dkim list " + o.domain + ")");
}

void add_domain_selector(CLI::App* cmd, dkim_options& o) {
    cmd->add_option("DOMAIN", o.domain, "a local domain")->required();
    cmd->add_option("SELECTOR", o.selector, "the key's selector (see dkim list)")->required();
}

} // namespace

void register_dkim_commands(CLI::App& app, cli_context& ctx) {
    auto o = std::make_shared<dkim_options>();
    auto* dkim_cmd = app.add_subcommand("dkim", "manage DKIM signing keys (RFC 6376, RFC 8463)");
    dkim_cmd->require_subcommand(1);

    auto* gen = command(
        dkim_cmd, "generate",
        "create a signing key for DOMAIN and print the DNS TXT record to publish", ctx, [o, &ctx] {
            auto alg =
                o->algorithm == "ed25519" ? dkim::key_algorithm::ed25519 : dkim::key_algorithm::rsa;
            std::string selector = o->selector.empty() ? default_selector(alg) : o->selector;
            auto db = ctx.open_config();
            auto row =
                config::generate_dkim_key(db, ctx.require_state_dir(), o->domain, selector, alg);
            std::cout << zone_line(row) << '\n';
        });
    gen->add_option("DOMAIN", o->domain, "a local domain (carteroctl domain add)")->required();
    gen->add_option("--selector", o->selector,
                    "selector: 1-63 of [a-z0-9-] (default cartero<yyyymm>, + 'e' for ed25519)")
        ->type_name("S");
    gen->add_option("--algorithm", o->algorithm, "rsa (2048 bits, default) or ed25519")
        ->check(CLI::IsMember({"rsa", "ed25519"}))
        ->type_name("ALG");

    command(dkim_cmd, "list", "list keys: domain, selector, algorithm, active|inactive", ctx,
            [o, &ctx] {
                auto db = ctx.open_config();
                auto keys = config::list_dkim_keys(db, o->domain);
                if (::isatty(STDOUT_FILENO)) std::cout << "DOMAIN\tSELECTOR\tALGORITHM\tSTATE\n";
                for (const auto& k : keys)
                    std::cout << k.domain << '\t' << k.selector << '\t' << k.algorithm << '\t'
                              << (k.active ? "active" : "inactive") << '\n';
            })
        ->add_option("DOMAIN", o->domain, "only this domain");

    add_domain_selector(command(dkim_cmd, "record", "print a key's DNS TXT record again", ctx,
                                [o, &ctx] {
                                    auto db = ctx.open_config();
                                    std::cout << zone_line(find_key(db, *o)) << '\n';
                                }),
                        *o);
    add_domain_selector(command(dkim_cmd, "disable", "stop signing with a key (it stays in DNS)",
                                ctx,
                                [o, &ctx] {
                                    auto db = ctx.open_config();
                                    config::set_dkim_key_active(db, o->domain, o->selector, false);
                                }),
                        *o);
    add_domain_selector(command(dkim_cmd, "enable", "sign with a key again", ctx,
                                [o, &ctx] {
                                    auto db = ctx.open_config();
                                    config::set_dkim_key_active(db, o->domain, o->selector, true);
                                }),
                        *o);
    add_domain_selector(command(dkim_cmd, "remove",
                                "delete a key and its private key file (unpublish its record "
                                "after mail signed with it has been delivered)",
                                ctx,
                                [o, &ctx] {
                                    auto db = ctx.open_config();
                                    config::remove_dkim_key(db, o->domain, o->selector);
                                }),
                        *o);
}

} // namespace cartero::ctl
