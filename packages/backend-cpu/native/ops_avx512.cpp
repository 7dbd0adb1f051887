// Vectorised ops (ops.h) at the avx512 level: 16 floats per vector.
#define KNS opsns_avx512
#define KNS_STR "avx512"
#define OPS_NAME ops_avx512
#define VW 16
#include "ops_body.h"
