// Body of the vectorised ops (ops.h), included by ops_*.cpp with KNS (namespace), KNS_STR, OPS_NAME and VW
// (floats per vector) defined and compiled with that level's -m flags. GCC/Clang vector extensions: the same source
// becomes AVX-512, AVX2 or SSE2 code. exp and log are Cephes-style polynomials (about 1 ulp in float32).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "conv.h"
#include "ops.h"
#include "pool.h"

namespace nnunet {
namespace KNS {
namespace {

typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));

inline vf ld(const float* p) { return *reinterpret_cast<const vfu*>(p); }
inline void st(float* p, vf v) { *reinterpret_cast<vfu*>(p) = v; }
inline vf bc(float s) { return vf{} + s; }
/** Loads the first m < VW floats (rest 0). */
inline vf ldp(const float* p, long m) {
  vf v = vf{};
  std::memcpy(&v, p, m * 4);
  return v;
}
inline void stp(float* p, vf v, long m) { std::memcpy(p, &v, m * 4); }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }
inline vf vmin(vf a, vf b) { return a < b ? a : b; }
inline double hsum(vf v) {
  double s = 0;
  for (int t = 0; t < VW; t++) s += v[t];
  return s;
}
/** 1.0 where the lane mask (all-ones int lanes) is set, else 0. */
inline vf sel1(vi m) { return (vf)(m & (vi)bc(1.f)); }

inline vf vexp(vf x) {
  x = vmin(vmax(x, bc(-87.3f)), bc(88.3f));
  const vf t = x * bc(1.44269504088896341f);
  const vi n = __builtin_convertvector(t + (t >= 0 ? bc(0.5f) : bc(-0.5f)), vi);
  const vf fn = __builtin_convertvector(n, vf);
  const vf r = x - fn * bc(0.693359375f) + fn * bc(2.12194440e-4f);
  vf p = bc(1.9875691500e-4f);
  p = p * r + bc(1.3981999507e-3f);
  p = p * r + bc(8.3334519073e-3f);
  p = p * r + bc(4.1665795894e-2f);
  p = p * r + bc(1.6666665459e-1f);
  p = p * r + bc(5.0000001201e-1f);
  p = p * r * r + r + bc(1.f);
  return p * (vf)((n + 127) << 23);
}

/** Natural log for x > 0 (x clamped to the smallest normal). */
inline vf vlog(vf x) {
  x = vmax(x, bc(1.17549435e-38f));
  vi ix = (vi)x;
  vi e = ((ix >> 23) & 0xff) - 126;
  vf m = (vf)((ix & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  const vi small = m < bc(0.707106781186547524f);
  e += small;  // -1 where small
  m = (small ? m + m : m) - bc(1.f);
  const vf z = m * m;
  vf y = bc(7.0376836292e-2f);
  y = y * m + bc(-1.1514610310e-1f);
  y = y * m + bc(1.1676998740e-1f);
  y = y * m + bc(-1.2420140846e-1f);
  y = y * m + bc(1.4249322787e-1f);
  y = y * m + bc(-1.6668057665e-1f);
  y = y * m + bc(2.0000714765e-1f);
  y = y * m + bc(-2.4999993993e-1f);
  y = y * m + bc(3.3333331174e-1f);
  y = y * m * z;
  const vf fe = __builtin_convertvector(e, vf);
  y += fe * bc(-2.12194440e-4f);
  y -= bc(0.5f) * z;
  return m + y + fe * bc(0.693359375f);
}

inline long cdiv(long a, long b) { return (a + b - 1) / b; }
Pool& pool() { return thread_pool(); }
/** Number of tasks for `work` units of which `grain` make a worthwhile task (1 when small). */
long ntasks_for(long work, long grain) {
  const long t = pool().size();
  return std::max(1L, std::min(cdiv(work, grain), 4 * t));
}

// ---- instance norm ----

/** Sum of x[0..S) in float64 (blocks of float vector sums). */
double plane_sum(const float* x, long S, float shift) {
  double s = 0;
  const vf sh = bc(shift);
  long i = 0;
  while (i + VW <= S) {
    const long end = std::min(S, i + 4096) - VW;
    vf a0 = vf{}, a1 = vf{};
    for (; i + VW <= end; i += 2 * VW) {
      a0 += ld(x + i) - sh;
      a1 += ld(x + i + VW) - sh;
    }
    for (; i <= end; i += VW) a0 += ld(x + i) - sh;
    s += hsum(a0 + a1);
  }
  for (; i < S; i++) s += x[i] - shift;
  return s;
}

/** Sum of (x - m)^2 over x[0..S). */
double plane_sqdev(const float* x, long S, float m) {
  double s = 0;
  const vf mv = bc(m);
  long i = 0;
  while (i + VW <= S) {
    const long end = std::min(S, i + 4096) - VW;
    vf a0 = vf{}, a1 = vf{};
    for (; i + VW <= end; i += 2 * VW) {
      const vf d0 = ld(x + i) - mv, d1 = ld(x + i + VW) - mv;
      a0 += d0 * d0;
      a1 += d1 * d1;
    }
    for (; i <= end; i += VW) {
      const vf d = ld(x + i) - mv;
      a0 += d * d;
    }
    s += hsum(a0 + a1);
  }
  for (; i < S; i++) s += double(x[i] - m) * (x[i] - m);
  return s;
}

void inorm_fwd(const float* x, const float* gamma, const float* beta, float* y, float* xhat, float* mean, float* rstd,
               long N, long C, long S, float eps, float slope, int act) {
  pool().run(N * C, [&](long nc, int) {
    const long c = nc % C;
    const float* xp = x + nc * S;
    float* yp = y + nc * S;
    // shifted by the first value: the sums stay small when |mean| >> std
    const float x0 = S ? xp[0] : 0.f;
    const double mu = x0 + plane_sum(xp, S, x0) / S;
    const double var = plane_sqdev(xp, S, static_cast<float>(mu)) / S;
    const float r = static_cast<float>(1.0 / std::sqrt(var + eps));
    if (mean) mean[nc] = static_cast<float>(mu);
    if (rstd) rstd[nc] = r;
    const float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    const float sc = g * r, shf = static_cast<float>(b - mu * sc);
    const vf scv = bc(sc), shv = bc(shf), slv = bc(act ? slope : 1.f);
    long i = 0;
    if (xhat) {
      float* hp = xhat + nc * S;
      const vf rv = bc(r), muv = bc(static_cast<float>(mu)), gv = bc(g), bv = bc(b);
      for (; i + VW <= S; i += VW) {
        const vf h = (ld(xp + i) - muv) * rv, z = h * gv + bv;
        st(hp + i, h);
        st(yp + i, z > 0 ? z : z * slv);
      }
      if (i < S) {
        const vf h = (ldp(xp + i, S - i) - muv) * rv, z = h * gv + bv;
        stp(hp + i, h, S - i);
        stp(yp + i, z > 0 ? z : z * slv, S - i);
      }
      return;
    }
    for (; i + VW <= S; i += VW) {
      const vf z = ld(xp + i) * scv + shv;
      st(yp + i, z > 0 ? z : z * slv);
    }
    if (i < S) {
      const vf z = ldp(xp + i, S - i) * scv + shv;
      stp(yp + i, z > 0 ? z : z * slv, S - i);
    }
  });
}

/** Backward of one (n, c) plane; returns sum dz and sum dz * xhat through s1, s2. */
void inorm_plane_bwd(const float* x, const float* dy, float* dx, long S, float mu, float r, float rx, float g, float b,
                     float slope, int act, double* s1, double* s2) {
  const vf muv = bc(mu), rv = bc(rx), gv = bc(g), bv = bc(b), slv = bc(act ? slope : 1.f);
  auto dzx = [&](vf xv, vf dyv, vf& xh) {
    xh = (xv - muv) * rv;
    const vf z = xh * gv + bv;
    return z > 0 ? dyv : dyv * slv;
  };
  double a = 0, c = 0;
  long i = 0;
  while (i < S) {
    const long end = std::min(S, i + 4096);
    vf a0 = vf{}, c0 = vf{};
    for (; i + VW <= end; i += VW) {
      vf xh;
      const vf dz = dzx(ld(x + i), ld(dy + i), xh);
      a0 += dz;
      c0 += dz * xh;
    }
    if (i < end) {  // tail of the plane (end == S): padded lanes give xh = -mu*r, dz = 0
      vf xh;
      const vf dz = dzx(ldp(x + i, end - i), ldp(dy + i, end - i), xh);
      a0 += dz;
      c0 += dz * xh;
      i = end;
    }
    a += hsum(a0);
    c += hsum(c0);
  }
  *s1 = a;
  *s2 = c;
  const vf k = bc(g * r), ma = bc(static_cast<float>(a / S)), mc = bc(static_cast<float>(c / S));
  i = 0;
  for (; i + VW <= S; i += VW) {
    vf xh;
    const vf dz = dzx(ld(x + i), ld(dy + i), xh);
    st(dx + i, k * (dz - ma - xh * mc));
  }
  if (i < S) {
    vf xh;
    const vf dz = dzx(ldp(x + i, S - i), ldp(dy + i, S - i), xh);
    stp(dx + i, k * (dz - ma - xh * mc), S - i);
  }
}

void inorm_bwd(const float* x, const float* gamma, const float* beta, const float* mean, const float* rstd,
               const float* dy, float* dx, float* dgamma, float* dbeta, long N, long C, long S, float slope, int act,
               int accumulate) {
  std::vector<double> s1(N * C), s2(N * C);
  pool().run(N * C, [&](long nc, int) {
    const long c = nc % C;
    // from xhat (mean null): xh = x * 1 - 0, the factor rstd still scales dx
    inorm_plane_bwd(x + nc * S, dy + nc * S, dx + nc * S, S, mean ? mean[nc] : 0.f, rstd[nc], mean ? rstd[nc] : 1.f,
                    gamma ? gamma[c] : 1.f, beta ? beta[c] : 0.f, slope, act, &s1[nc], &s2[nc]);
  });
  for (long c = 0; c < C; c++) {
    double a = 0, b = 0;
    for (long n = 0; n < N; n++) a += s2[n * C + c], b += s1[n * C + c];
    if (dgamma) dgamma[c] = static_cast<float>(accumulate ? dgamma[c] + a : a);
    if (dbeta) dbeta[c] = static_cast<float>(accumulate ? dbeta[c] + b : b);
  }
}

// ---- element-wise ----

/** Runs f(i0, i1) over [0, n) in chunks of at least `grain` elements (multiples of VW). */
template <class F>
void chunked(long n, long grain, F&& f) {
  const long nt = ntasks_for(n, grain);
  const long per = cdiv(cdiv(n, nt), VW) * VW;
  pool().run(cdiv(n, per), [&](long t, int) { f(t * per, std::min(n, (t + 1) * per)); });
}

void lrelu_fwd(const float* x, float* y, long n, float slope) {
  chunked(n, 1 << 15, [&](long i0, long i1) {
    const vf sl = bc(slope);
    long i = i0;
    for (; i + VW <= i1; i += VW) {
      const vf v = ld(x + i);
      st(y + i, v > 0 ? v : v * sl);
    }
    for (; i < i1; i++) y[i] = x[i] > 0 ? x[i] : x[i] * slope;
  });
}

void lrelu_bwd(const float* x, const float* dy, float* dx, long n, float slope) {
  chunked(n, 1 << 15, [&](long i0, long i1) {
    const vf sl = bc(slope);
    long i = i0;
    for (; i + VW <= i1; i += VW) {
      const vf d = ld(dy + i);
      st(dx + i, ld(x + i) > 0 ? d : d * sl);
    }
    for (; i < i1; i++) dx[i] = x[i] > 0 ? dy[i] : dy[i] * slope;
  });
}

void axpby(const float* x, float* y, long n, float a, float b) {
  chunked(n, 1 << 15, [&](long i0, long i1) {
    const vf av = bc(a), bv = bc(b);
    long i = i0;
    if (b == 0.f) {
      for (; i + VW <= i1; i += VW) st(y + i, av * ld(x + i));
      for (; i < i1; i++) y[i] = a * x[i];
    } else {
      for (; i + VW <= i1; i += VW) st(y + i, av * ld(x + i) + bv * ld(y + i));
      for (; i < i1; i++) y[i] = a * x[i] + b * y[i];
    }
  });
}

void bias_add(float* y, const float* b, long N, long C, long S) {
  pool().run(N * C, [&](long nc, int) {
    float* p = y + nc * S;
    const float v = b[nc % C];
    for (long i = 0; i < S; i++) p[i] += v;
  });
}

void channel_sum(const float* dy, float* out, long N, long C, long S, int accumulate) {
  std::vector<double> part(N * C);
  pool().run(N * C, [&](long nc, int) { part[nc] = plane_sum(dy + nc * S, S, 0.f); });
  for (long c = 0; c < C; c++) {
    double s = 0;
    for (long n = 0; n < N; n++) s += part[n * C + c];
    out[c] = static_cast<float>(accumulate ? out[c] + s : s);
  }
}

// ---- softmax and the DC + CE loss ----

/** Voxel blocks per task of the channel-wise ops: tasks (n, chunk of S). */
struct Chunks {
  long per, nch;
  Chunks(long N, long C, long S) {
    const long t = ntasks_for(N * C * S, 1 << 14);
    nch = std::max(1L, cdiv(t, N));
    per = cdiv(cdiv(S, nch), VW) * VW;
    nch = cdiv(S, per);
  }
};

/** Softmax of the voxels [s, s + m) (m <= VW) of one sample x[C, S] into y; returns max and sum of exp. */
inline void softmax_block(const float* x, float* y, long C, long S, long s, long m, vf& mx, vf& sum) {
  auto load = [&](const float* p) { return m == VW ? ld(p) : ldp(p, m); };
  mx = load(x + s);
  for (long c = 1; c < C; c++) mx = vmax(mx, load(x + c * S + s));
  sum = vf{};
  vf e[8];
  for (long c = 0; c < C; c++) {
    const vf v = vexp(load(x + c * S + s) - mx);
    sum += v;
    if (c < 8) e[c] = v;
    else if (m == VW) st(y + c * S + s, v);
    else stp(y + c * S + s, v, m);
  }
  const vf inv = bc(1.f) / sum;
  for (long c = 0; c < C; c++) {
    const vf v = (c < 8 ? e[c] : (m == VW ? ld(y + c * S + s) : ldp(y + c * S + s, m))) * inv;
    if (m == VW) st(y + c * S + s, v);
    else stp(y + c * S + s, v, m);
  }
}

void softmax(const float* x, float* y, long N, long C, long S) {
  Chunks ch(N, C, S);
  pool().run(N * ch.nch, [&](long t, int) {
    const long n = t / ch.nch, s0 = (t % ch.nch) * ch.per, s1 = std::min(S, s0 + ch.per);
    for (long s = s0; s < s1; s += VW) {
      vf mx, sum;
      softmax_block(x + n * C * S, y + n * C * S, C, S, s, std::min<long>(VW, s1 - s), mx, sum);
    }
  });
}

void softmax_bwd(const float* p, const float* dp, float* dx, long N, long C, long S) {
  Chunks ch(N, C, S);
  pool().run(N * ch.nch, [&](long t, int) {
    const long n = t / ch.nch, s0 = (t % ch.nch) * ch.per, s1 = std::min(S, s0 + ch.per);
    const float *pp = p + n * C * S, *dd = dp + n * C * S;
    float* o = dx + n * C * S;
    for (long s = s0; s < s1; s += VW) {
      const long m = std::min<long>(VW, s1 - s);
      auto load = [&](const float* q) { return m == VW ? ld(q) : ldp(q, m); };
      vf dot = vf{};
      for (long c = 0; c < C; c++) dot += load(pp + c * S + s) * load(dd + c * S + s);
      for (long c = 0; c < C; c++) {
        const vf v = load(pp + c * S + s) * (load(dd + c * S + s) - dot);
        if (m == VW) st(o + c * S + s, v);
        else stp(o + c * S + s, v, m);
      }
    }
  });
}

constexpr int32_t NO_VOXEL = INT32_MIN;
/** Loads m labels of type T as int lanes; lanes >= m get NO_VOXEL. */
template <class T>
inline vi load_labels(const T* t, long m) {
  vi v = vi{} + NO_VOXEL;
  for (long i = 0; i < m; i++) v[i] = static_cast<int32_t>(t[i]);
  return v;
}

template <class T>
void dcce_fwd_t(const float* logits, const T* target, long N, long C, long S, long ignore, float* probs,
                double* stats) {
  Chunks ch(N, C, S);
  const long nt = N * ch.nch, K = C * 3 + 2;
  std::vector<double> part(nt * K, 0.0);
  pool().run(nt, [&](long t, int) {
    const long n = t / ch.nch, s0 = (t % ch.nch) * ch.per, s1 = std::min(S, s0 + ch.per);
    const float* x = logits + n * C * S;
    float* y = probs + n * C * S;
    const T* tg = target + n * S;
    std::vector<vf> acc(C * 3 + 2, vf{});
    const vi ign = vi{} + static_cast<int32_t>(ignore);
    for (long s = s0; s < s1; s += VW) {
      const long m = std::min<long>(VW, s1 - s);
      vf mx, sum;
      softmax_block(x, y, C, S, s, m, mx, sum);
      vi lab = load_labels(tg + s, m);
      const vi valid = (lab != NO_VOXEL) & (ignore >= 0 ? lab != ign : lab == lab);
      lab = valid ? lab : vi{} - 1;
      const vf vmask = sel1(valid);
      vf xt = vf{};
      for (long c = 0; c < C; c++) {
        const vf p = (m == VW ? ld(y + c * S + s) : ldp(y + c * S + s, m)) * vmask;
        const vi is = lab == static_cast<int32_t>(c);
        const vf oh = sel1(is);
        acc[c * 3] += p * oh;
        acc[c * 3 + 1] += p;
        acc[c * 3 + 2] += oh;
        xt += is ? (m == VW ? ld(x + c * S + s) : ldp(x + c * S + s, m)) : vf{};
      }
      acc[C * 3] += (mx + vlog(sum) - xt) * vmask;  // -log p_target
      acc[C * 3 + 1] += vmask;
    }
    double* d = part.data() + t * K;
    for (long k = 0; k < K; k++) d[k] = hsum(acc[k]);
  });
  std::fill(stats, stats + N * C * 3 + 2, 0.0);
  for (long t = 0; t < nt; t++) {
    const long n = t / ch.nch;
    const double* d = part.data() + t * K;
    for (long k = 0; k < C * 3; k++) stats[n * C * 3 + k] += d[k];
    stats[N * C * 3] += d[C * 3];
    stats[N * C * 3 + 1] += d[C * 3 + 1];
  }
}

template <class T>
void dcce_bwd_t(const float* probs, const T* target, long N, long C, long S, long ignore, const float* A,
                const float* B, float ce_scale, float* dl) {
  Chunks ch(N, C, S);
  pool().run(N * ch.nch, [&](long t, int) {
    const long n = t / ch.nch, s0 = (t % ch.nch) * ch.per, s1 = std::min(S, s0 + ch.per);
    const float* p = probs + n * C * S;
    float* o = dl + n * C * S;
    const T* tg = target + n * S;
    const vi ign = vi{} + static_cast<int32_t>(ignore);
    const vf ces = bc(ce_scale);
    for (long s = s0; s < s1; s += VW) {
      const long m = std::min<long>(VW, s1 - s);
      auto load = [&](const float* q) { return m == VW ? ld(q) : ldp(q, m); };
      vi lab = load_labels(tg + s, m);
      const vi valid = (lab != NO_VOXEL) & (ignore >= 0 ? lab != ign : lab == lab);
      lab = valid ? lab : vi{} - 1;
      vf dot = vf{};
      for (long c = 0; c < C; c++) {
        const vf oh = sel1(lab == static_cast<int32_t>(c));
        dot += load(p + c * S + s) * (bc(A[n * C + c]) * oh + bc(B[n * C + c]));
      }
      for (long c = 0; c < C; c++) {
        const vf oh = sel1(lab == static_cast<int32_t>(c));
        const vf pc = load(p + c * S + s);
        const vf dp = bc(A[n * C + c]) * oh + bc(B[n * C + c]);
        const vf v = valid ? pc * (dp - dot) + ces * (pc - oh) : vf{};
        if (m == VW) st(o + c * S + s, v);
        else stp(o + c * S + s, v, m);
      }
    }
  });
}

void dcce_fwd(const float* logits, const void* target, int ttype, long N, long C, long S, long ignore, float* probs,
              double* stats) {
  switch (ttype) {
    case DT_F32: return dcce_fwd_t(logits, static_cast<const float*>(target), N, C, S, ignore, probs, stats);
    case DT_I16: return dcce_fwd_t(logits, static_cast<const int16_t*>(target), N, C, S, ignore, probs, stats);
    case DT_U8: return dcce_fwd_t(logits, static_cast<const uint8_t*>(target), N, C, S, ignore, probs, stats);
    default: return dcce_fwd_t(logits, static_cast<const int32_t*>(target), N, C, S, ignore, probs, stats);
  }
}

void dcce_bwd(const float* probs, const void* target, int ttype, long N, long C, long S, long ignore, const float* A,
              const float* B, float ce_scale, float* dl) {
  switch (ttype) {
    case DT_F32: return dcce_bwd_t(probs, static_cast<const float*>(target), N, C, S, ignore, A, B, ce_scale, dl);
    case DT_I16: return dcce_bwd_t(probs, static_cast<const int16_t*>(target), N, C, S, ignore, A, B, ce_scale, dl);
    case DT_U8: return dcce_bwd_t(probs, static_cast<const uint8_t*>(target), N, C, S, ignore, A, B, ce_scale, dl);
    default: return dcce_bwd_t(probs, static_cast<const int32_t*>(target), N, C, S, ignore, A, B, ce_scale, dl);
  }
}

// ---- optimiser ----

/** Splits k tensors into pieces of at most `grain` elements: (tensor, begin, end). */
struct Pieces {
  std::vector<long> t, b, e;
  Pieces(const long* n, int k, long grain) {
    for (int i = 0; i < k; i++)
      for (long s = 0; s < n[i]; s += grain) t.push_back(i), b.push_back(s), e.push_back(std::min(n[i], s + grain));
  }
  long size() const { return static_cast<long>(t.size()); }
};

void sgd(float* const* p, const float* const* g, float* const* buf, const long* n, const float* wd, int k, float lr,
         float momentum, int nesterov, float gscale) {
  Pieces pc(n, k, 1 << 15);
  pool().run(pc.size(), [&](long j, int) {
    const long i = pc.t[j];
    float* pp = p[i];
    const float* gg = g[i];
    float* bb = buf[i];
    const float w = wd[i];
    for (long q = pc.b[j]; q < pc.e[j]; q++) {
      const float d = gscale * gg[q] + w * pp[q];
      const float m = momentum * bb[q] + d;
      bb[q] = m;
      pp[q] -= lr * (nesterov ? d + momentum * m : m);
    }
  });
}

double sumsq(const float* const* g, const long* n, int k) {
  Pieces pc(n, k, 1 << 15);
  std::vector<double> part(pc.size());
  pool().run(pc.size(), [&](long j, int) {
    const float* x = g[pc.t[j]] + pc.b[j];
    part[j] = plane_sqdev(x, pc.e[j] - pc.b[j], 0.f);
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

void scale(float* const* g, const long* n, int k, float s) {
  Pieces pc(n, k, 1 << 15);
  pool().run(pc.size(), [&](long j, int) {
    float* x = g[pc.t[j]];
    for (long q = pc.b[j]; q < pc.e[j]; q++) x[q] *= s;
  });
}

// ---- inference ----

void acc_weighted(float* acc, float* wacc, const float* patch, const float* g, long C, long Z, long Y, long X, long pz,
                  long py, long px, long z0, long y0, long x0, float scale) {
  const long rows = (C + (wacc ? 1 : 0)) * pz;
  pool().run(rows, [&](long t, int) {
    const long c = t / pz, i = t % pz;
    for (long j = 0; j < py; j++) {
      const float* gr = g + (i * py + j) * px;
      if (c == C) {
        float* w = wacc + ((z0 + i) * Y + y0 + j) * X + x0;
        for (long q = 0; q < px; q++) w[q] += gr[q];
      } else {
        float* a = acc + ((c * Z + z0 + i) * Y + y0 + j) * X + x0;
        const float* s = patch + ((c * pz + i) * py + j) * px;
        for (long q = 0; q < px; q++) a[q] += scale * s[q] * gr[q];
      }
    }
  });
}

void div_weights(float* acc, const float* w, long C, long S) {
  const long nch = std::max(1L, ntasks_for(C * S, 1 << 15) / std::max(1L, C));
  const long per = cdiv(S, nch);
  pool().run(C * nch, [&](long t, int) {
    const long c = t / nch, s0 = (t % nch) * per, s1 = std::min(S, s0 + per);
    float* a = acc + c * S;
    for (long s = s0; s < s1; s++) a[s] /= w[s];
  });
}

template <class T>
void argmax_t(const float* x, long N, long C, long S, T* out) {
  Chunks ch(N, C, S);
  pool().run(N * ch.nch, [&](long t, int) {
    const long n = t / ch.nch, s0 = (t % ch.nch) * ch.per, s1 = std::min(S, s0 + ch.per);
    const float* xp = x + n * C * S;
    for (long s = s0; s < s1; s += VW) {
      const long m = std::min<long>(VW, s1 - s);
      vf best = m == VW ? ld(xp + s) : ldp(xp + s, m);
      vi idx = vi{};
      for (long c = 1; c < C; c++) {
        const vf v = m == VW ? ld(xp + c * S + s) : ldp(xp + c * S + s, m);
        const vi gt = v > best;
        best = gt ? v : best;
        idx = gt ? vi{} + static_cast<int32_t>(c) : idx;
      }
      for (long q = 0; q < m; q++) out[n * S + s + q] = static_cast<T>(idx[q]);
    }
  });
}

void argmax(const float* x, long N, long C, long S, void* out, int otype) {
  switch (otype) {
    case DT_F32: return argmax_t(x, N, C, S, static_cast<float*>(out));
    case DT_I16: return argmax_t(x, N, C, S, static_cast<int16_t*>(out));
    case DT_U8: return argmax_t(x, N, C, S, static_cast<uint8_t*>(out));
    default: return argmax_t(x, N, C, S, static_cast<int32_t*>(out));
  }
}

}  // namespace
}  // namespace KNS

extern const Ops OPS_NAME = {KNS_STR,          &KNS::inorm_fwd, &KNS::inorm_bwd,   &KNS::lrelu_fwd,   &KNS::lrelu_bwd,
                             &KNS::softmax,    &KNS::softmax_bwd, &KNS::dcce_fwd,  &KNS::dcce_bwd,    &KNS::sgd,
                             &KNS::sumsq,      &KNS::scale,     &KNS::bias_add,    &KNS::channel_sum, &KNS::axpby,
                             &KNS::acc_weighted, &KNS::div_weights, &KNS::argmax};

}  // namespace nnunet
