// libmodbus (Debian libmodbus-dev): Modbus RTU and TCP masters.
#include <modbus.h>
#include <errno.h>

// libmodbus reports errors through errno; these read it (and its exception-code base) from Swift.
static inline int vigil_modbus_errno(void) { return errno; }
static inline int vigil_modbus_exception_base(void) { return MODBUS_ENOBASE; }
static inline int vigil_modbus_timeout_errno(void) { return ETIMEDOUT; }
