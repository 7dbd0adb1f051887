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
  // Winograd F(2x2x2, 3x3x3) input transform (B^T d B per axis) of n tiles along x, one channel: the tile row's
  // 4x4 padded input rows (z, y) are split into even / odd x, E at base + z*zs + y*ys, O at E + wh (rows readable
  // to n + vw). Transformed value pos = (kz*4 + ky)*4 + kx of tile t goes to v[pos*ps + t*ts]: ts = 1 writes whole
  // vectors (t < rup(n, vw)), ts > 1 only t < n (the weight gradient's packed panels).
  void (*wi)(long n, const float* base, long zs, long ys, long wh, float* v, long ps, long ts);
  // Winograd output transform (A^T m A per axis) of n tiles along x, one channel: m[pos*ps + t] (readable to
  // rup(n, vw)) -> y[a*zs + b*ys + 2t + c] + bias for a < nz, b < ny, 2t + c < nx.
  void (*wo)(long n, const float* m, long ps, float* y, long zs, long ys, int nz, int ny, long nx, float bias);
  // Winograd transform of the output gradient for the weight gradient (A dy A^T per axis) of n tiles along x, one
  // channel: the tile row's 2x2 dy rows split into even / odd x like wi's input (E at base + a*zs + b*ys, O at
  // E + wh, zero beyond the output) to v[pos*ps + t*ts] for t < n.
  void (*wd)(long n, const float* base, long zs, long ys, long wh, float* v, long ps, long ts);
};

extern const Kernels kernels_generic;
#if defined(__x86_64__) || defined(_M_X64)
extern const Kernels kernels_avx2;
extern const Kernels kernels_avx512;
#endif

}  // namespace nnunet
