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

// fsync(2) of a directory, so that names created in it survive a crash. Throws
// std::runtime_error "cannot open directory DIR: reason" / "cannot fsync directory DIR: reason".
void fsync_directory(const std::string& dir);

} // namespace cartero
