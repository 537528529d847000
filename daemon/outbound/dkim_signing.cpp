// daemon/outbound/dkim_signing.cpp — key set per domain, From-domain lookup, signing.
#include "daemon/outbound/dkim_signing.hpp"

#include "core/log.hpp"
#include "daemon/mailauth/dkim_canon.hpp"

#include <fstream>
#include <sstream>

namespace cartero::outbound {

std::string from_domain(std::string_view message) {
    auto view = mailauth::split_message(message);
    for (const auto& h : view.headers) {
        if (h.name.size() != 4) continue;
        std::string n(h.name);
        for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (n != "from") continue;
        std::string v(h.value());
        // "Name <user@dom>" or "user@dom": the domain runs from the last '@' to '>' / space.
        auto lt = v.find('<');
        if (lt != std::string::npos) v = v.substr(lt + 1);
        auto at = v.rfind('@');
        if (at == std::string::npos) return {};
        std::string d;
        for (std::size_t i = at + 1; i < v.size(); ++i) {
            char c = v[i];
            if (c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';')
                break;
            d += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        return d;
    }
    return {};
}

void dkim_signing::reload(const std::vector<config::dkim_key_row>& keys) {
    std::map<std::string, std::vector<std::shared_ptr<const mailauth::signer>>> next;
    for (const auto& k : keys) {
        if (!k.active) continue;
        std::ifstream in(k.private_key_path);
        std::stringstream pem;
        pem << in.rdbuf();
        if (!in || pem.str().empty()) {
            log::error("dkim_key_unreadable", {{"domain", k.domain}, {"selector", k.selector},
                                               {"path", k.private_key_path}});
            continue;
        }
        try {
            auto alg = k.algorithm == "ed25519-sha256" ? dkim::key_algorithm::ed25519
                                                       : dkim::key_algorithm::rsa;
            next[k.domain].push_back(
                std::make_shared<const mailauth::signer>(k.domain, k.selector, alg, pem.str()));
        } catch (const std::exception& e) {
            log::error("dkim_key_invalid", {{"domain", k.domain}, {"selector", k.selector},
                                            {"error", e.what()}});
        }
    }
    std::lock_guard lk(mu_);
    by_domain_ = std::move(next);
}

std::shared_ptr<const std::string> dkim_signing::sign(std::shared_ptr<const std::string> message,
                                                      std::int64_t now) const {
    if (!message) return message;
    std::vector<std::shared_ptr<const mailauth::signer>> signers;
    {
        std::lock_guard lk(mu_);
        if (by_domain_.empty()) return message;
        auto it = by_domain_.find(from_domain(*message));
        if (it == by_domain_.end()) return message;
        signers = it->second;
    }
    std::string fields;
    for (const auto& s : signers) fields += s->sign(*message, now);
    auto out = std::make_shared<std::string>();
    out->reserve(fields.size() + message->size());
    *out = std::move(fields);
    *out += *message;
    return out;
}

std::size_t dkim_signing::keys() const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& [d, v] : by_domain_) n += v.size();
    return n;
}

} // namespace cartero::outbound
