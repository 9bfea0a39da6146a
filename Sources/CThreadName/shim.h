// Naming a thread (shown by top -H, perf, gdb). glibc declares pthread_setname_np only under
// _GNU_SOURCE, which Swift's Glibc module is built without; the function itself is always there.
// No system header is included: a module that includes <pthread.h> would own its types (timespec,
// …) in Swift's eyes. pthread_t is an unsigned long in glibc.
extern unsigned long pthread_self(void);
extern int pthread_setname_np(unsigned long thread, const char *name);

static inline int cthreadname_set_current(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
