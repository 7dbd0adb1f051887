// AVX2+FMA micro-kernels: 16 ymm registers, 4x24 NN tile (12 accumulators), 3x4 NT tile. Built with -mavx2 -mfma.
#define KNS avx2
#define KNS_STR "avx2"
#define KERNELS_NAME kernels_avx2
#define VW 8
#define MR 4
#define NV 3
#define MR2 3
#define NR2 4
#include "kern_body.h"
