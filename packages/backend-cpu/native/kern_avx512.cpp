// AVX-512F micro-kernels: 32 zmm registers, 8x48 NN tile (24 accumulators), 4x6 NT tile. Built with -mavx512f -mfma.
#define KNS avx512
#define KNS_STR "avx512"
#define KERNELS_NAME kernels_avx512
#define VW 16
#define MR 8
#define NV 3
#define MR2 4
#define NR2 6
#include "kern_body.h"
