// glibc's allocator controls and statistics (malloc.h), which Swift's Glibc module leaves out.
#include <malloc.h>
#include <stddef.h>

// The struct and the function are both named mallinfo2: from Swift, `mallinfo2()` can resolve to
// the struct's zero initializer instead of the call. A function of its own name avoids that.
static inline void cmalloc_statistics(size_t *in_use, size_t *free_bytes, size_t *mapped) {
    struct mallinfo2 info = mallinfo2();
    *in_use = info.uordblks + info.hblkhd;
    *free_bytes = info.fordblks;
    *mapped = info.hblkhd;
}
