// Body of the micro-kernels, included by kern_*.cpp with KNS (namespace), VW, MR, NV, MR2, NR2 defined and
// compiled with that level's -m flags. Written with GCC/Clang vector extensions, so the same source becomes
// AVX-512, AVX2+FMA or SSE2/NEON code; accumulators are held in registers (fully unrolled fixed-size loops).
#include "kernels.h"
#if defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace nnunet {
namespace KNS {

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));

static inline vf ld(const float* p) { return *reinterpret_cast<const vfu*>(p); }
static inline void st(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
static inline vf bc(float s) {
#if VW == 16 && defined(__AVX512F__)
  return _mm512_set1_ps(s);
#elif VW == 8 && defined(__AVX__)
  return _mm256_set1_ps(s);
#endif
  vf v;
#pragma GCC unroll 16
  for (int t = 0; t < VW; t++) v[t] = s;
  return v;
}

static void nn(long K, const float* __restrict A, const float* __restrict B, float* __restrict C, long ldc,
               int accumulate) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) acc[i][j] = vf{};
#pragma GCC unroll 2
  for (long k = 0; k < K; k++) {
    vf b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) b[j] = ld(B + j * VW);
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++) {
      const vf a = bc(A[i]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; j++) acc[i][j] += a * b[j];
    }
    A += MR;
    B += NV * VW;
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
      float* c = C + i * ldc + j * VW;
      st(c, accumulate ? ld(c) + acc[i][j] : acc[i][j]);
    }
}

static void nt(long L, const float* __restrict A, long lda, const float* __restrict B, long ldb, float* __restrict C,
               long ldc) {
  vf acc[MR2][NR2];
#pragma GCC unroll 16
  for (int i = 0; i < MR2; i++)
#pragma GCC unroll 16
    for (int j = 0; j < NR2; j++) acc[i][j] = vf{};
  for (long l = 0; l < L; l += VW) {
    vf a[MR2];
#pragma GCC unroll 16
    for (int i = 0; i < MR2; i++) a[i] = ld(A + i * lda + l);
#pragma GCC unroll 16
    for (int j = 0; j < NR2; j++) {
      const vf b = ld(B + j * ldb + l);
#pragma GCC unroll 16
      for (int i = 0; i < MR2; i++) acc[i][j] += a[i] * b;
    }
  }
  for (int i = 0; i < MR2; i++)
    for (int j = 0; j < NR2; j++) {
      float s = 0.f;
      for (int t = 0; t < VW; t++) s += acc[i][j][t];
      C[i * ldc + j] += s;
    }
}

// As nn, but row k of B is the NR floats at B + off[k] (direct convolution: rows of the padded input).
static void nni(long K, const float* __restrict A, const long* __restrict off, const float* __restrict B,
                float* __restrict C, long ldc, int accumulate) {
  vf acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) acc[i][j] = vf{};
#pragma GCC unroll 2
  for (long k = 0; k < K; k++) {
    const float* bk = B + off[k];
    vf b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) b[j] = ld(bk + j * VW);
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++) {
      const vf a = bc(A[i]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; j++) acc[i][j] += a * b[j];
    }
    A += MR;
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
      float* c = C + i * ldc + j * VW;
      st(c, accumulate ? ld(c) + acc[i][j] : acc[i][j]);
    }
}

// As nt, but row j of B starts at Brows[j].
static void ntp(long L, const float* __restrict A, long lda, const float* const* __restrict Brows, float* __restrict C,
                long ldc) {
  vf acc[MR2][NR2];
  const float* bp[NR2];
#pragma GCC unroll 16
  for (int j = 0; j < NR2; j++) bp[j] = Brows[j];
#pragma GCC unroll 16
  for (int i = 0; i < MR2; i++)
#pragma GCC unroll 16
    for (int j = 0; j < NR2; j++) acc[i][j] = vf{};
  for (long l = 0; l < L; l += VW) {
    vf a[MR2];
#pragma GCC unroll 16
    for (int i = 0; i < MR2; i++) a[i] = ld(A + i * lda + l);
#pragma GCC unroll 16
    for (int j = 0; j < NR2; j++) {
      const vf b = ld(bp[j] + l);
#pragma GCC unroll 16
      for (int i = 0; i < MR2; i++) acc[i][j] += a[i] * b;
    }
  }
  for (int i = 0; i < MR2; i++)
    for (int j = 0; j < NR2; j++) {
      float s = 0.f;
      for (int t = 0; t < VW; t++) s += acc[i][j][t];
      C[i * ldc + j] += s;
    }
}

}  // namespace KNS

extern const Kernels KERNELS_NAME = {KNS_STR, VW, MR, NV * VW, MR2, NR2, &KNS::nn, &KNS::nt, &KNS::nni, &KNS::ntp};

}  // namespace nnunet
