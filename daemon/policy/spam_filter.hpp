// daemon/policy/spam_filter.hpp — one inbound message through spam filtering: DNS probes, the
// message's headers and text, the score, and the per-recipient decision. Blocking (DNS, regex
// over up to max_text_bytes): run it on the blocking pool, never on the session executor.
#pragma once

#include "core/config_snapshot.hpp"
#include "core/dns/resolver.hpp"
#include "daemon/policy/spam_verdict.hpp"

#include <chrono>
#include <string_view>
#include <vector>

namespace cartero::policy {

// `dns` may be null (no DNS probes: no DNSBL, no rDNS items). `message` as received (before
// our trace fields), X-Spam-* already removed or not (rules never see our own fields).
spam_decision run_spam_filter(const config::snapshot& cfg, dns::resolver* dns,
                              std::string_view message, const spam_request& rq,
                              const std::vector<queue::recipient>& targets,
                              std::chrono::milliseconds dns_budget = std::chrono::seconds(5));

} // namespace cartero::policy
