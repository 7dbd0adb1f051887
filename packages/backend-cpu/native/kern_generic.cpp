// Portable micro-kernels (4-wide vectors: SSE2 on x86-64, NEON on arm64, scalar code elsewhere). No extra flags.
#define KNS generic
#define KNS_STR "generic"
#define KERNELS_NAME kernels_generic
#define VW 4
#define MR 4
#define NV 3
#define MR2 3
#define NR2 4
#include "kern_body.h"
