// daemon/policy/session_facts.cpp — listener kind names as used in flags and config files.
#include "daemon/policy/session_facts.hpp"

namespace cartero::policy {

std::string_view to_string(listener_kind k) {
    switch (k) {
    case listener_kind::smtp: return "smtp";
    case listener_kind::submission: return "submission";
    case listener_kind::smtps: return "smtps";
    }
    return "smtp";
}

std::optional<listener_kind> listener_kind_from(std::string_view name) {
    if (name == "smtp") return listener_kind::smtp;
    if (name == "submission") return listener_kind::submission;
    if (name == "smtps") return listener_kind::smtps;
    return std::nullopt;
}

} // namespace cartero::policy
