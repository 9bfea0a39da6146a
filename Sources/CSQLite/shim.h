#include <sqlite3.h>

/// No bulk page-cache allocation per connection. By default each connection allocates room for
/// 20 pages at its first transaction (SQLITE_DEFAULT_PCACHE_INITSZ; 333 KB at our 16 KiB pages, in
/// a block of its own), whether or not it ever caches that much: an empty gateway kept about
/// 0.4 MiB of it resident. Pages are then allocated one by one as the cache fills. Must run before
/// SQLite initializes (the first open); sqlite3_config is variadic, which Swift cannot call.
static inline int vigil_sqlite3_no_bulk_page_cache(void) {
    return sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0);
}
