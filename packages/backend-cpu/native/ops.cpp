// Dispatch of the vectorised ops to the conv micro-kernels' instruction-set level, and the data-movement ops
// (concatenation, mirroring, nearest resize), which need no SIMD code of their own.
#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conv.h"
#include "pool.h"

namespace nnunet {

const Ops& ops() {
  const std::string n = kernels().name;
#if defined(__x86_64__) || defined(_M_X64)
#ifndef NNUNET_NO_AVX512
  if (n == "avx512") return ops_avx512;
#endif
#ifndef NNUNET_NO_AVX2
  if (n == "avx2") return ops_avx2;
#endif
#endif
  return ops_generic;
}

namespace {
inline long cdiv(long a, long b) { return (a + b - 1) / b; }
/** Copy of n floats split over the pool when large. */
void par_copy(float* dst, const float* src, long n) {
  const long grain = 1 << 16, nt = std::min(cdiv(n, grain), 4L * thread_pool().size());
  if (nt <= 1) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  const long per = cdiv(n, nt);
  thread_pool().run(nt, [&](long t, int) {
    const long b = t * per, e = std::min(n, b + per);
    if (e > b) std::memcpy(dst + b, src + b, (e - b) * 4);
  });
}
}  // namespace

void concat_channels(const float* const* src, const long* cs, int k, long N, long S, float* dst) {
  long Ct = 0;
  for (int i = 0; i < k; i++) Ct += cs[i];
  for (long n = 0; n < N; n++) {
    long off = 0;
    for (int i = 0; i < k; i++) {
      par_copy(dst + (n * Ct + off) * S, src[i] + n * cs[i] * S, cs[i] * S);
      off += cs[i];
    }
  }
}

void split_channels(const float* src, float* const* dst, const long* cs, int k, long N, long S) {
  long Ct = 0;
  for (int i = 0; i < k; i++) Ct += cs[i];
  for (long n = 0; n < N; n++) {
    long off = 0;
    for (int i = 0; i < k; i++) {
      par_copy(dst[i] + n * cs[i] * S, src + (n * Ct + off) * S, cs[i] * S);
      off += cs[i];
    }
  }
}

void flip(const float* src, float* dst, long NC, long Z, long Y, long X, int axes) {
  const bool fz = axes & 1, fy = axes & 2, fx = axes & 4;
  thread_pool().run(NC * Z, [&](long t, int) {
    const long nc = t / Z, z = t % Z, sz = fz ? Z - 1 - z : z;
    for (long y = 0; y < Y; y++) {
      const long sy = fy ? Y - 1 - y : y;
      const float* s = src + ((nc * Z + sz) * Y + sy) * X;
      float* d = dst + ((nc * Z + z) * Y + y) * X;
      if (fx)
        for (long x = 0; x < X; x++) d[x] = s[X - 1 - x];
      else
        std::memcpy(d, s, X * 4);
    }
  });
}

void copy_window(const float* src, long C, long Z, long Y, long X, long z0, long y0, long x0, long sz, long sy, long sx,
                 float* dst, const float* w) {
  thread_pool().run(C * sz, [&](long t, int) {
    const long c = t / sz, i = t % sz;
    for (long j = 0; j < sy; j++) {
      const long so = ((z0 + i) * Y + y0 + j) * X + x0;
      const float* s = src + c * Z * Y * X + so;
      float* d = dst + ((c * sz + i) * sy + j) * sx;
      if (w)
        for (long k = 0; k < sx; k++) d[k] = s[k] / w[so + k];
      else
        std::memcpy(d, s, sx * 4);
    }
  });
}

namespace {
std::vector<long> nearest_index(long in, long out) {
  std::vector<long> idx(out);
  for (long i = 0; i < out; i++)
    idx[i] = std::min(in - 1, static_cast<long>(std::floor((i + 0.5) * static_cast<double>(in) / out)));
  return idx;
}

template <class T>
void resize_nearest_t(const T* src, T* dst, long NC, long Z, long Y, long X, long oz, long oy, long ox) {
  const std::vector<long> iz = nearest_index(Z, oz), iy = nearest_index(Y, oy), ix = nearest_index(X, ox);
  thread_pool().run(NC, [&](long nc, int) {
    T* d = dst + nc * oz * oy * ox;
    for (long z = 0; z < oz; z++)
      for (long y = 0; y < oy; y++) {
        const T* row = src + ((nc * Z + iz[z]) * Y + iy[y]) * X;
        for (long x = 0; x < ox; x++) *d++ = row[ix[x]];
      }
  });
}
}  // namespace

void resize_nearest(const void* src, int type, void* dst, long NC, long Z, long Y, long X, long oz, long oy, long ox) {
  switch (type) {
    case DT_F32:
      return resize_nearest_t(static_cast<const float*>(src), static_cast<float*>(dst), NC, Z, Y, X, oz, oy, ox);
    case DT_I16:
      return resize_nearest_t(static_cast<const int16_t*>(src), static_cast<int16_t*>(dst), NC, Z, Y, X, oz, oy, ox);
    case DT_U8:
      return resize_nearest_t(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), NC, Z, Y, X, oz, oy, ox);
    default:
      return resize_nearest_t(static_cast<const int32_t*>(src), static_cast<int32_t*>(dst), NC, Z, Y, X, oz, oy, ox);
  }
}

}  // namespace nnunet
