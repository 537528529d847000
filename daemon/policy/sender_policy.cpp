// daemon/policy/sender_policy.cpp — sender ownership for authenticated users.
#include "daemon/policy/sender_policy.hpp"

#include "core/address_norm.hpp"

#include <algorithm>

namespace cartero::policy {

std::vector<std::string> owned_addresses(const config::snapshot& cfg, const std::string& user) {
    std::vector<std::string> out{user};
    for (const auto& [source, dests] : cfg.forwarders) {
        if (source.empty() || source.front() == '@') continue;
        if (std::find(dests.begin(), dests.end(), user) != dests.end()) out.push_back(source);
    }
    return out;
}

reply check_sender(const config::snapshot& cfg, const session_facts& who,
                   const smtp::path& from) {
    if (from.null_path || !who.auth_user) return reply(250, "2.1.0", "Ok");
    auto norm = names::normalize_address(from.local + "@" + from.domain);
    if (!from.quoted && !from.had_source_route && norm.ok) {
        // Direct checks first: owned_addresses walks every forwarder.
        if (norm.value == *who.auth_user) return reply(250, "2.1.0", "Ok");
        if (auto fw = cfg.forwarders.find(norm.value); fw != cfg.forwarders.end() &&
            std::find(fw->second.begin(), fw->second.end(), *who.auth_user) != fw->second.end())
            return reply(250, "2.1.0", "Ok");
    }
    return reply(553, "5.7.1",
                 "Sender address <" + from.address() + "> is not owned by user " + *who.auth_user);
}

} // namespace cartero::policy
