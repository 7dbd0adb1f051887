// Body of the micro-kernels, included by kern_*.cpp with KNS (namespace), VW, MR, NV, MR2, NR2 defined and
// compiled with that level's -m flags. Written with GCC/Clang vector extensions, so the same source becomes
// AVX-512, AVX2+FMA or SSE2/NEON code; accumulators are held in registers (fully unrolled fixed-size loops).
#include <algorithm>

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

// ---- Winograd F(2x2x2, 3x3x3) transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016:
// F(2, 3) per axis). Vectors run over tiles along x; see kernels.h for the layouts.

// 1D input transform B^T d of one 4-point line: (d0 - d2, d1 + d2, d2 - d1, d1 - d3), in place.
static inline void bt4(vf& a0, vf& a1, vf& a2, vf& a3) {
  const vf u0 = a0 - a2, u1 = a1 + a2, u2 = a2 - a1, u3 = a1 - a3;
  a0 = u0, a1 = u1, a2 = u2, a3 = u3;
}

// Stores the 64 transformed vectors m of tiles t .. t + vw - 1: whole vectors when ts == 1, else lane by lane with
// stride ts, tiles < n only.
static inline void wstore(const vf (&m)[4][4][4], long t, long n, float* __restrict v, long ps, long ts) {
  if (ts == 1) {
#pragma GCC unroll 64
    for (int pos = 0; pos < 64; pos++) st(v + pos * ps + t, m[pos >> 4][(pos >> 2) & 3][pos & 3]);
    return;
  }
  alignas(64) float tmp[64][VW];
#pragma GCC unroll 64
  for (int pos = 0; pos < 64; pos++) st(tmp[pos], m[pos >> 4][(pos >> 2) & 3][pos & 3]);
  const long lim = std::min<long>(VW, n - t);
  float* d = v + t * ts;
  for (int pos = 0; pos < 64; pos++, d += ps)
    for (long l = 0; l < lim; l++) d[l * ts] = tmp[pos][l];
}

static void wi(long n, const float* __restrict base, long zs, long ys, long wh, float* __restrict v, long ps,
               long ts) {
  for (long t = 0; t < n; t += VW) {
    vf m[4][4][4];  // [z][y][x], transformed along x, then y, then z
#pragma GCC unroll 4
    for (int z = 0; z < 4; z++)
#pragma GCC unroll 4
      for (int y = 0; y < 4; y++) {
        // padded input x = 2t .. 2t+3 of a tile: E[t], O[t], E[t+1], O[t+1]
        const float* e = base + z * zs + y * ys + t;
        const float* o = e + wh;
        const vf e0 = ld(e), e1 = ld(e + 1), o0 = ld(o), o1 = ld(o + 1);
        m[z][y][0] = e0 - e1, m[z][y][1] = o0 + e1, m[z][y][2] = e1 - o0, m[z][y][3] = o0 - o1;
      }
#pragma GCC unroll 4
    for (int z = 0; z < 4; z++)
#pragma GCC unroll 4
      for (int x = 0; x < 4; x++) bt4(m[z][0][x], m[z][1][x], m[z][2][x], m[z][3][x]);
#pragma GCC unroll 4
    for (int y = 0; y < 4; y++)
#pragma GCC unroll 4
      for (int x = 0; x < 4; x++) bt4(m[0][y][x], m[1][y][x], m[2][y][x], m[3][y][x]);
    wstore(m, t, n, v, ps, ts);
  }
}

// 1D transform A dy of a 2-point line: (d0, d0 + d1, d0 - d1, -d1).
static void wd(long n, const float* __restrict base, long zs, long ys, long wh, float* __restrict v, long ps,
               long ts) {
  for (long t = 0; t < n; t += VW) {
    vf r[2][2][4];
#pragma GCC unroll 2
    for (int a = 0; a < 2; a++)
#pragma GCC unroll 2
      for (int b = 0; b < 2; b++) {
        const float* e = base + a * zs + b * ys + t;
        const vf d0 = ld(e), d1 = ld(e + wh);
        r[a][b][0] = d0, r[a][b][1] = d0 + d1, r[a][b][2] = d0 - d1, r[a][b][3] = -d1;
      }
    vf s[2][4][4];
#pragma GCC unroll 2
    for (int a = 0; a < 2; a++)
#pragma GCC unroll 4
      for (int x = 0; x < 4; x++) {
        const vf d0 = r[a][0][x], d1 = r[a][1][x];
        s[a][0][x] = d0, s[a][1][x] = d0 + d1, s[a][2][x] = d0 - d1, s[a][3][x] = -d1;
      }
    vf m[4][4][4];
#pragma GCC unroll 4
    for (int y = 0; y < 4; y++)
#pragma GCC unroll 4
      for (int x = 0; x < 4; x++) {
        const vf d0 = s[0][y][x], d1 = s[1][y][x];
        m[0][y][x] = d0, m[1][y][x] = d0 + d1, m[2][y][x] = d0 - d1, m[3][y][x] = -d1;
      }
    wstore(m, t, n, v, ps, ts);
  }
}

static void wo(long n, const float* __restrict m, long ps, float* __restrict y, long zs, long ys, int nz, int ny,
               long nx, float bias) {
  const vf vb = bc(bias);
  for (long t = 0; t < n; t += VW) {
    // A^T = [1 1 1 0; 0 1 -1 -1] along z, then y, then x
    vf b[2][4][4];
#pragma GCC unroll 4
    for (int ky = 0; ky < 4; ky++)
#pragma GCC unroll 4
      for (int kx = 0; kx < 4; kx++) {
        const float* p = m + (ky * 4 + kx) * ps + t;
        const vf a0 = ld(p), a1 = ld(p + 16 * ps), a2 = ld(p + 32 * ps), a3 = ld(p + 48 * ps);
        b[0][ky][kx] = a0 + a1 + a2, b[1][ky][kx] = a1 - a2 - a3;
      }
    alignas(64) float r[2][2][2][VW];
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
      vf c[2][4];
#pragma GCC unroll 4
      for (int kx = 0; kx < 4; kx++) {
        c[0][kx] = b[i][0][kx] + b[i][1][kx] + b[i][2][kx];
        c[1][kx] = b[i][1][kx] - b[i][2][kx] - b[i][3][kx];
      }
#pragma GCC unroll 2
      for (int j = 0; j < 2; j++) {
        st(r[i][j][0], c[j][0] + c[j][1] + c[j][2] + vb);
        st(r[i][j][1], c[j][1] - c[j][2] - c[j][3] + vb);
      }
    }
    const long lim = std::min<long>(VW, n - t), x0 = 2 * t;
    for (int i = 0; i < nz; i++)
      for (int j = 0; j < ny; j++) {
        float* yr = y + i * zs + j * ys + x0;
        const float* r0 = r[i][j][0];
        const float* r1 = r[i][j][1];
        if (x0 + 2 * lim <= nx) {
          for (long l = 0; l < lim; l++) yr[2 * l] = r0[l], yr[2 * l + 1] = r1[l];
        } else {
          for (long l = 0; l < lim; l++) {
            if (x0 + 2 * l < nx) yr[2 * l] = r0[l];
            if (x0 + 2 * l + 1 < nx) yr[2 * l + 1] = r1[l];
          }
        }
      }
  }
}

}  // namespace KNS

extern const Kernels KERNELS_NAME = {KNS_STR, VW, MR, NV * VW, MR2, NR2, &KNS::nn, &KNS::nt, &KNS::nni, &KNS::ntp,
                                     &KNS::wi, &KNS::wo, &KNS::wd};

}  // namespace nnunet
