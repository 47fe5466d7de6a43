#ifndef SKILLUP_CARGON2_SHIM_H
#define SKILLUP_CARGON2_SHIM_H
#include <argon2.h>
#include <malloc.h>

/* glibc raises its mmap threshold after a large block is freed, so later 19 MiB Argon2 blocks come
   from per-thread heap arenas and stay resident. A fixed threshold keeps them mmapped (returned to
   the system after each hash); fewer arenas keep freed memory from piling up per thread. */
static inline void skillup_return_large_blocks_to_system(void) {
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 4);
}
#endif
