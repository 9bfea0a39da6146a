// glibc's allocator controls and statistics (malloc.h), which Swift's Glibc module leaves out.
#include <malloc.h>
