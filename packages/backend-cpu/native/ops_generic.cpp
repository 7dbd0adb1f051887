// Vectorised ops (ops.h) at the generic level: 4 floats per vector.
#define KNS opsns_generic
#define KNS_STR "generic"
#define OPS_NAME ops_generic
#define VW 4
#include "ops_body.h"
