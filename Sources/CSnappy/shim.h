// Snappy (Debian libsnappy-dev), its C API: block compression for Prometheus remote write.
#include <snappy-c.h>
