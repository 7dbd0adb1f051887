// GEMM micro-kernels of the cpu-native backend, one set per instruction-set level (see kern_*.cpp).
#pragma once

namespace nnunet {

/** One instruction-set level's register-blocked micro-kernels and their block sizes. */
struct Kernels {
  const char* name;
  int vw;   // floats per vector register
  int mr;   // rows of the NN micro-tile
  int nr;   // columns of the NN micro-tile (multiple of vw)
  int mr2;  // rows (A) of the NT dot micro-tile
  int nr2;  // rows (B) of the NT dot micro-tile
  // C[mr x nr] (row stride ldc) = (accumulate ? C : 0) + sum_k A[k*mr + i] * B[k*nr + j]
  void (*nn)(long K, const float* A, const float* B, float* C, long ldc, int accumulate);
  // C[i*ldc + j] += sum_{l < L} A[i*lda + l] * B[j*ldb + l] for i < mr2, j < nr2; L is a multiple of vw.
  void (*nt)(long L, const float* A, long lda, const float* B, long ldb, float* C, long ldc);
  // As nn with row k of B at B + off[k] (rows of a padded input, no packing).
  void (*nni)(long K, const float* A, const long* off, const float* B, float* C, long ldc, int accumulate);
  // As nt with row j of B starting at Brows[j].
  void (*ntp)(long L, const float* A, long lda, const float* const* Brows, float* C, long ldc);
};

extern const Kernels kernels_generic;
#if defined(__x86_64__) || defined(_M_X64)
extern const Kernels kernels_avx2;
extern const Kernels kernels_avx512;
#endif

}  // namespace nnunet
