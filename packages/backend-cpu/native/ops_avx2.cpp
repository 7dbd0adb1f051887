// Vectorised ops (ops.h) at the avx2 level: 8 floats per vector.
#define KNS opsns_avx2
#define KNS_STR "avx2"
#define OPS_NAME ops_avx2
#define VW 8
#include "ops_body.h"
