// daemon/queue/wal_write_batching.cpp — VFS shim: a WAL commit's frames in one write (see .hpp).
#include "daemon/queue/wal_write_batching.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace cartero::queue {

namespace {

constexpr std::size_t max_buffer = 4u << 20;
constexpr int frame_header_size = 24; // wal.c WAL_FRAME_HDRSIZE; the WAL header itself is 32

std::atomic<std::uint64_t> requested{0}, issued{0}, guard_flushes{0};

struct shim_file {
    sqlite3_file base;          // must be first: SQLite sees this
    sqlite3_file* real = nullptr;
    bool wal = false;
    bool commit_tail = false;   // the last frame header was a commit frame's
    sqlite3_int64 end = -1;     // where the previous write ended (buffered or not)
    sqlite3_int64 buf_off = 0;
    std::string buf;            // contiguous pending bytes at buf_off (WAL files only)
};
constexpr int head_size = static_cast<int>((sizeof(shim_file) + 15) & ~std::size_t{15});

// The WAL file of this thread with pending bytes, for the last-resort guard on the database
// file (a connection is used by one thread at a time; a COMMIT never returns with bytes pending).
thread_local shim_file* pending_here = nullptr;

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<shim_file*>(f)->real; }
shim_file* shim_of(sqlite3_file* f) { return reinterpret_cast<shim_file*>(f); }

// The unix VFS writes at most 0x1ffff bytes per call (seekAndWriteFd masks the length, and a
// multiple of 128 KiB then reads as a zero-length write: SQLITE_FULL), so the buffer goes out
// in pieces below that.
constexpr std::size_t max_write = 0x1f000;

int flush(shim_file* f) {
    if (pending_here == f) pending_here = nullptr;
    int rc = SQLITE_OK;
    for (std::size_t done = 0; done < f->buf.size() && rc == SQLITE_OK;) {
        const std::size_t n = std::min(max_write, f->buf.size() - done);
        ++issued;
        rc = f->real->pMethods->xWrite(f->real, f->buf.data() + done, static_cast<int>(n),
                                       f->buf_off + static_cast<sqlite3_int64>(done));
        done += n;
    }
    f->buf.clear();
    return rc;
}

std::uint32_t be32(const void* p) {
    const auto* b = static_cast<const unsigned char*>(p);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

// ---- WAL files: buffered appends, everything else flushes first ---------------------------

int wal_close(sqlite3_file* f) {
    auto* s = shim_of(f);
    int rc = flush(s);
    int rc2 = s->real->pMethods ? s->real->pMethods->xClose(s->real) : SQLITE_OK;
    s->~shim_file();
    return rc != SQLITE_OK ? rc : rc2;
}

int wal_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
    auto* s = shim_of(f);
    if (int rc = flush(s); rc != SQLITE_OK) return rc;
    return s->real->pMethods->xRead(s->real, out, n, off);
}

// Only appends at the end of the previous write are buffered: SQLite's other WAL writes (a
// page overwritten in place within its transaction, checksums rewritten after the commit
// frame, the WAL header at offset 0) go straight through, after what is pending, in order.
int wal_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
    auto* s = shim_of(f);
    ++requested;
    const bool sequential = off == s->end;
    s->end = off + n;
    if (!sequential) {
        s->commit_tail = false;
        if (int rc = flush(s); rc != SQLITE_OK) return rc;
        ++issued;
        return s->real->pMethods->xWrite(s->real, data, n, off);
    }
    if (n == frame_header_size) s->commit_tail = be32(static_cast<const char*>(data) + 4) != 0;
    if (s->buf.size() + static_cast<std::size_t>(n) > max_buffer)
        if (int rc = flush(s); rc != SQLITE_OK) return rc;
    if (s->buf.empty()) s->buf_off = off;
    s->buf.append(static_cast<const char*>(data), static_cast<std::size_t>(n));
    pending_here = s;
    // The commit frame's page (and any padding frames after it) end the transaction: out now,
    // so the COMMIT reports a failed write and is in the file when it returns.
    if (s->commit_tail && n != frame_header_size) return flush(s);
    return SQLITE_OK;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
    auto* s = shim_of(f);
    if (int rc = flush(s); rc != SQLITE_OK) return rc;
    return s->real->pMethods->xTruncate(s->real, size);
}

int wal_sync(sqlite3_file* f, int flags) {
    auto* s = shim_of(f);
    if (int rc = flush(s); rc != SQLITE_OK) return rc;
    return s->real->pMethods->xSync(s->real, flags);
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
    auto* s = shim_of(f);
    if (int rc = flush(s); rc != SQLITE_OK) return rc;
    return s->real->pMethods->xFileSize(s->real, size);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
    auto* s = shim_of(f);
    if (int rc = flush(s); rc != SQLITE_OK) return rc;
    return s->real->pMethods->xFileControl(s->real, op, arg);
}

// ---- shared by both kinds: plain forwarding ------------------------------------------------

int fwd_lock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
int fwd_unlock(sqlite3_file* f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
int fwd_check_reserved(sqlite3_file* f, int* out) {
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int fwd_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int fwd_device_chars(sqlite3_file* f) {
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
int fwd_shm_map(sqlite3_file* f, int pg, int pgsz, int extend, void volatile** pp) {
    return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}
int fwd_shm_unmap(sqlite3_file* f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
int fwd_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
    return real_of(f)->pMethods->xFetch(real_of(f), off, n, pp);
}
int fwd_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

// ---- database (and other) files: forwarding, plus the guard --------------------------------

void guard() {
    if (pending_here && !pending_here->buf.empty()) {
        ++guard_flushes;
        flush(pending_here); // nowhere to report an error from here; see the header
    }
}

int main_close(sqlite3_file* f) {
    auto* s = shim_of(f);
    int rc = s->real->pMethods ? s->real->pMethods->xClose(s->real) : SQLITE_OK;
    s->~shim_file();
    return rc;
}
int main_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
    return real_of(f)->pMethods->xRead(real_of(f), out, n, off);
}
int main_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
    return real_of(f)->pMethods->xWrite(real_of(f), data, n, off);
}
int main_truncate(sqlite3_file* f, sqlite3_int64 size) {
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int main_sync(sqlite3_file* f, int flags) { return real_of(f)->pMethods->xSync(real_of(f), flags); }
int main_file_size(sqlite3_file* f, sqlite3_int64* size) {
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int main_file_control(sqlite3_file* f, int op, void* arg) {
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int main_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    guard();
    return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void main_shm_barrier(sqlite3_file* f) {
    guard();
    real_of(f)->pMethods->xShmBarrier(real_of(f));
}

// Method tables per iVersion of the real file's methods (the unix VFS uses 3).
sqlite3_io_methods make_methods(bool wal, int version) {
    sqlite3_io_methods m{};
    m.iVersion = version;
    m.xClose = wal ? wal_close : main_close;
    m.xRead = wal ? wal_read : main_read;
    m.xWrite = wal ? wal_write : main_write;
    m.xTruncate = wal ? wal_truncate : main_truncate;
    m.xSync = wal ? wal_sync : main_sync;
    m.xFileSize = wal ? wal_file_size : main_file_size;
    m.xLock = fwd_lock;
    m.xUnlock = fwd_unlock;
    m.xCheckReservedLock = fwd_check_reserved;
    m.xFileControl = wal ? wal_file_control : main_file_control;
    m.xSectorSize = fwd_sector_size;
    m.xDeviceCharacteristics = fwd_device_chars;
    if (version >= 2) {
        m.xShmMap = fwd_shm_map;
        m.xShmLock = main_shm_lock;
        m.xShmBarrier = main_shm_barrier;
        m.xShmUnmap = fwd_shm_unmap;
    }
    if (version >= 3) {
        m.xFetch = fwd_fetch;
        m.xUnfetch = fwd_unfetch;
    }
    return m;
}

const sqlite3_io_methods* methods_for(bool wal, int version) {
    static const sqlite3_io_methods tables[2][4] = {
        {make_methods(false, 0), make_methods(false, 1), make_methods(false, 2), make_methods(false, 3)},
        {make_methods(true, 0), make_methods(true, 1), make_methods(true, 2), make_methods(true, 3)},
    };
    if (version < 1) version = 1;
    if (version > 3) version = 3;
    return &tables[wal ? 1 : 0][version];
}

// ---- the VFS -------------------------------------------------------------------------------

sqlite3_vfs* real_vfs(sqlite3_vfs* v) { return static_cast<sqlite3_vfs*>(v->pAppData); }

int shim_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* s = new (file) shim_file{};
    s->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + head_size);
    s->real->pMethods = nullptr;
    sqlite3_vfs* r = real_vfs(vfs);
    int rc = r->xOpen(r, name, s->real, flags, out_flags);
    if (rc != SQLITE_OK || !s->real->pMethods) {
        if (s->real->pMethods) s->real->pMethods->xClose(s->real);
        s->~shim_file();
        file->pMethods = nullptr;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    s->wal = (flags & SQLITE_OPEN_WAL) != 0;
    s->base.pMethods = methods_for(s->wal, s->real->pMethods->iVersion);
    return SQLITE_OK;
}

int shim_delete(sqlite3_vfs* v, const char* n, int sync_dir) {
    return real_vfs(v)->xDelete(real_vfs(v), n, sync_dir);
}
int shim_access(sqlite3_vfs* v, const char* n, int flags, int* out) {
    return real_vfs(v)->xAccess(real_vfs(v), n, flags, out);
}
int shim_full_pathname(sqlite3_vfs* v, const char* n, int size, char* out) {
    return real_vfs(v)->xFullPathname(real_vfs(v), n, size, out);
}
void* shim_dl_open(sqlite3_vfs* v, const char* n) { return real_vfs(v)->xDlOpen(real_vfs(v), n); }
void shim_dl_error(sqlite3_vfs* v, int n, char* out) { real_vfs(v)->xDlError(real_vfs(v), n, out); }
void (*shim_dl_sym(sqlite3_vfs* v, void* h, const char* sym))(void) {
    return real_vfs(v)->xDlSym(real_vfs(v), h, sym);
}
void shim_dl_close(sqlite3_vfs* v, void* h) { real_vfs(v)->xDlClose(real_vfs(v), h); }
int shim_randomness(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xRandomness(real_vfs(v), n, out);
}
int shim_sleep(sqlite3_vfs* v, int us) { return real_vfs(v)->xSleep(real_vfs(v), us); }
int shim_current_time(sqlite3_vfs* v, double* t) { return real_vfs(v)->xCurrentTime(real_vfs(v), t); }
int shim_last_error(sqlite3_vfs* v, int n, char* out) {
    return real_vfs(v)->xGetLastError(real_vfs(v), n, out);
}
int shim_current_time64(sqlite3_vfs* v, sqlite3_int64* t) {
    return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), t);
}

constexpr const char* vfs_name = "cartero-wal-batching";

} // namespace

const char* wal_write_batching_vfs() {
    static std::once_flag once;
    static sqlite3_vfs vfs{};
    std::call_once(once, [] {
        sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
        if (!base) throw std::runtime_error("SQLite has no default VFS");
        vfs.iVersion = base->iVersion >= 2 ? 2 : 1; // no system-call overrides through the shim
        vfs.szOsFile = head_size + base->szOsFile;
        vfs.mxPathname = base->mxPathname;
        vfs.zName = vfs_name;
        vfs.pAppData = base;
        vfs.xOpen = shim_open;
        vfs.xDelete = shim_delete;
        vfs.xAccess = shim_access;
        vfs.xFullPathname = shim_full_pathname;
        vfs.xDlOpen = shim_dl_open;
        vfs.xDlError = shim_dl_error;
        vfs.xDlSym = shim_dl_sym;
        vfs.xDlClose = shim_dl_close;
        vfs.xRandomness = shim_randomness;
        vfs.xSleep = shim_sleep;
        vfs.xCurrentTime = shim_current_time;
        vfs.xGetLastError = shim_last_error;
        if (vfs.iVersion >= 2) vfs.xCurrentTimeInt64 = base->xCurrentTimeInt64 ? shim_current_time64 : nullptr;
        if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK)
            throw std::runtime_error("cannot register the WAL write-batching VFS");
    });
    return vfs_name;
}

wal_write_stats wal_write_batching_stats() {
    return {requested.load(), issued.load(), guard_flushes.load()};
}

} // namespace cartero::queue
