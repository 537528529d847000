// daemon/policy/spam_filter.cpp — DNS facts + message view + score + decision for one message.
#include "daemon/policy/spam_filter.hpp"

namespace cartero::policy {

spam_decision run_spam_filter(const config::snapshot& cfg, dns::resolver* dns,
                              std::string_view message, const spam_request& rq,
                              const std::vector<queue::recipient>& targets,
                              std::chrono::milliseconds dns_budget) {
    spam_dns_facts facts;
    if (dns && cfg.filters) facts = probe_spam_dns(*dns, rq.client_ip, cfg.filters->zones, dns_budget);
    const spam_message msg = read_spam_message(message);
    const auto items = score_message(rq, msg, facts, cfg);
    return decide(rq, msg, items, cfg, targets);
}

} // namespace cartero::policy
