// core/atomic_file.hpp — write a file so that it appears whole or not at all, durably.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

namespace cartero {

// A unique tmp file next to `path` (mkstemp), mode set with fchmod (the umask neither widens
// nor narrows it), write, fsync, rename over `path`, fsync of the directory. The directory must
// exist. Throws std::runtime_error "cannot write PATH: STEP: reason"; the tmp file is removed.
void write_file_atomically(const std::string& path, std::string_view data, mode_t mode);

} // namespace cartero
