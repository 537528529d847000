// webui/panel_config.cpp — the panel's clock.
#include "webui/panel_config.hpp"

#include <ctime>

namespace cartero::webui {

std::int64_t panel_config::now() const {
    return clock ? clock() : static_cast<std::int64_t>(std::time(nullptr));
}

} // namespace cartero::webui
