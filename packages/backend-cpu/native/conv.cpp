// Convolution drivers: implicit GEMM over tiles of output positions. Each task packs an im2col tile of its own
// (never the whole im2col matrix), so the working set stays in L2, and runs the register-blocked micro-kernels.
//   forward        : Y[co, p]  = W[co, r] * col[r, p]            (NN kernel, tiles of p, K-blocked)
//   backward data  : stride 1 -> forward conv of dy with the flipped, transposed kernel (no scatter);
//                    otherwise dcol[r, p] = W^T[r, co] * dY[co, p] per tile, then col2im (threads own channels)
//   backward filter: dW[co, r] += dY[co, p] . col[r, p]          (NT dot kernel, per-thread accumulators)
#include "conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#ifdef __linux__
#include <sched.h>
#endif

#include "pool.h"

namespace nnunet {
namespace {

const Kernels* g_kernels = nullptr;
Pool* g_pool = nullptr;

int default_threads() {
  const char* e = std::getenv("NNUNET_NUM_THREADS");
  if (e && std::atoi(e) > 0) return std::atoi(e);
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  unsigned h = std::thread::hardware_concurrency();
  return h ? static_cast<int>(h) : 1;
}

Pool& pool() {
  if (!g_pool) g_pool = new Pool(default_threads());
  return *g_pool;
}

/** Growable 64-byte aligned scratch buffer, one set per thread. */
struct Buf {
  float* p = nullptr;
  size_t n = 0;
  float* get(size_t m) {
    if (m > n) {
      std::free(p);
      n = m + m / 4 + 64;
      p = static_cast<float*>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64));
      if (!p) throw std::bad_alloc();
    }
    return p;
  }
  ~Buf() { std::free(p); }
};
thread_local Buf tl_a, tl_b, tl_c;

inline long rup(long a, long b) { return (a + b - 1) / b * b; }
inline long cdiv(long a, long b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
inline long fdiv(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/**
 * Visits row r of one sample's im2col matrix over output columns [p0, p0 + np) as runs:
 * f(j, len, xoff, xstride): columns j..j+len-1 read x[xoff + t * xstride]; xoff = -1 marks zero padding.
 */
template <class F>
void walk_row(const Geo& g, long r, long p0, long np, F&& f) {
  const long khw = g.kh * g.kw, kvol = g.kd * khw;
  const long c = r / kvol, a = (r % kvol) / khw, e = (r % khw) / g.kw, fx = r % g.kw;
  const long ohw = g.oh * g.ow;
  const long oxlo = std::max(0L, cdiv(g.pw - fx, g.sw));
  const long oxhi = std::min(g.ow, fdiv(g.w - 1 + g.pw - fx, g.sw) + 1);
  const long base = c * g.S();
  long oz = p0 / ohw, oy = (p0 % ohw) / g.ow, ox = p0 % g.ow;
  for (long j = 0; j < np;) {
    const long len = std::min(g.ow - ox, np - j);
    const long iz = oz * g.sd - g.pd + a, iy = oy * g.sh - g.ph + e;
    if (iz < 0 || iz >= g.d || iy < 0 || iy >= g.h || oxhi <= oxlo) {
      f(j, len, -1L, 0L);
    } else {
      const long lo = std::clamp(oxlo, ox, ox + len), hi = std::clamp(oxhi, lo, ox + len);
      if (lo > ox) f(j, lo - ox, -1L, 0L);
      if (hi > lo) f(j + lo - ox, hi - lo, base + (iz * g.h + iy) * g.w + lo * g.sw - g.pw + fx, g.sw);
      if (ox + len > hi) f(j + hi - ox, ox + len - hi, -1L, 0L);
    }
    j += len;
    ox = 0;
    if (++oy == g.oh) oy = 0, ++oz;
  }
}

/**
 * Packs columns [p0, p0+np) of the im2col matrix of one sample x ([ci, d, h, w]) into panels of nrp columns:
 * element (r, j) goes to dst[(j / nrp) * rows * nrp + r * nrp + j % nrp]. Columns up to a multiple of nrp and
 * rows R..rows-1 are zero.
 */
void im2col_tile(const float* x, const Geo& g, long p0, long np, long nrp, long rows, float* dst) {
  const long R = g.R(), npad = rup(np, nrp), pstride = rows * nrp;
  for (long r = 0; r < R; r++) {
    float* drow = dst + r * nrp;
    walk_row(g, r, p0, np, [&](long j, long len, long xoff, long xs) {
      while (len > 0) {
        const long pj = j / nrp, off = j - pj * nrp, m = std::min(len, nrp - off);
        float* d = drow + pj * pstride + off;
        if (xoff < 0) {
          std::memset(d, 0, m * 4);
        } else {
          const float* s = x + xoff;
          if (xs == 1) std::memcpy(d, s, m * 4);
          else
            for (long t = 0; t < m; t++) d[t] = s[t * xs];
          xoff += m * xs;
        }
        j += m;
        len -= m;
      }
    });
    if (npad > np) {
      const long pj = np / nrp, off = np - pj * nrp;
      std::memset(drow + pj * pstride + off, 0, (nrp - off) * 4);
    }
  }
  for (long r = R; r < rows; r++)
    for (long pj = 0; pj < npad / nrp; pj++) std::memset(dst + pj * pstride + r * nrp, 0, nrp * 4);
}

/** dx (one sample) += col2im of rows [r0, r1) of a row-major dcol tile (row stride ld) over columns [p0, p0+np). */
void col2im_tile(const float* dcol, long ld, long r0, long r1, const Geo& g, long p0, long np, float* dx) {
  for (long r = r0; r < r1; r++) {
    const float* s = dcol + (r - r0) * ld;
    walk_row(g, r, p0, np, [&](long j, long len, long xoff, long xs) {
      if (xoff < 0) return;
      float* d = dx + xoff;
      const float* ss = s + j;
      if (xs == 1)
        for (long t = 0; t < len; t++) d[t] += ss[t];
      else
        for (long t = 0; t < len; t++) d[t * xs] += ss[t];
    });
  }
}

/** Packs A (element (i, k) at src[i*si + k*sk], i < M, k < K) into row panels [M/mr][K][mr], zero-padded. */
void pack_a_panel(const float* src, long M, long K, long si, long sk, int mr, float* dst, long i0) {
  float* d = dst + i0 * K;
  for (long k = 0; k < K; k++)
    for (int i = 0; i < mr; i++) d[k * mr + i] = i0 + i < M ? src[(i0 + i) * si + k * sk] : 0.f;
}

void pack_a(const float* src, long M, long K, long si, long sk, int mr, float* dst) {
  for (long i0 = 0; i0 < M; i0 += mr) pack_a_panel(src, M, K, si, sk, mr, dst, i0);
}

Pool& pool();

/** pack_a over the thread pool (large weight tensors of deep layers). Must not be called from inside a task. */
void pack_a_parallel(const float* src, long M, long K, long si, long sk, int mr, float* dst) {
  if (M * K < (1L << 16)) return pack_a(src, M, K, si, sk, mr, dst);
  pool().run(cdiv(M, mr), [&](long p, int) { pack_a_panel(src, M, K, si, sk, mr, dst, p * mr); });
}

/** Packs rows k < K of src (row stride ld), columns [0, np), into column panels [np/nr][K][nr], zero-padded. */
void pack_b_rows(const float* src, long ld, long K, long np, long nr, float* dst) {
  for (long j0 = 0; j0 < np; j0 += nr) {
    const long nj = std::min(nr, np - j0);
    float* d = dst + (j0 / nr) * K * nr;
    for (long k = 0; k < K; k++) {
      std::memcpy(d + k * nr, src + k * ld + j0, nj * 4);
      if (nj < nr) std::memset(d + k * nr + nj, 0, (nr - nj) * 4);
    }
  }
}

/** C[i, j] (i < M, j < np, row stride ldc) = Ap (packed, M x K) * Bp (panels, K x np); K-blocked. */
void gemm_tile(const Kernels& kn, long M, long K, const float* Ap, const float* Bp, long np, float* C, long ldc) {
  const int mr = kn.mr, nr = kn.nr;
  alignas(64) float tmp[16 * 64];
  const long nk = (K + 511) / 512, kc = (K + nk - 1) / nk;
  for (long k0 = 0; k0 < K; k0 += kc) {
    const long kl = std::min(kc, K - k0);
    for (long j0 = 0; j0 < np; j0 += nr) {
      const long nj = std::min<long>(nr, np - j0);
      const float* B = Bp + (j0 / nr) * K * nr;
      for (long i0 = 0; i0 < M; i0 += mr) {
        const long mi = std::min<long>(mr, M - i0);
        const float* A = Ap + i0 * K;
        if (nj == nr && mi == mr) {
          kn.nn(kl, A + k0 * mr, B + k0 * nr, C + i0 * ldc + j0, ldc, k0 > 0);
        } else if (k0 == 0) {  // edge block: whole K at once through a local tile
          kn.nn(K, A, B, tmp, nr, 0);
          for (long i = 0; i < mi; i++)
            for (long j = 0; j < nj; j++) C[(i0 + i) * ldc + j0 + j] = tmp[i * nr + j];
        }
      }
    }
  }
}

// ---- Direct path: no im2col. The input is split once into its stride phases (polyphase), each zero-padded:
// Xph[phase (rz, ry, rx)][c][i][j][l] = x[c][i*sd + rz - pd][j*sh + ry - ph][l*sw + rx - pw] (0 outside). Then tap
// (a, e, f) of output (z, y, x) reads Xph[(a%sd, e%sh, f%sw)][c][z + a/sd][y + e/sh][x + f/sw], so with outputs
// indexed in the phase volumes' row pitch (q = (z*Hp + y)*Wp + x; y >= oh or x >= ow computed and dropped), row
// (c, a, e, f) of the im2col matrix is a contiguous run of Xph, which the micro-kernels read in place. For stride 1
// there is one phase, the zero-padded input; for kernel = stride (transposed-conv geometry) there is no waste.

/** Phase-split, zero-padded copy of x: [n][phase][c][Dp][Hp][Wp], slack at the end for over-reads. */
struct Padded {
  float* data = nullptr;  // g_pad's storage: valid until the next pad_input
  long Dp, Hp, Wp, Sp;    // one phase volume of one channel
  long sample;            // floats per sample (phases * channels * Sp)
};

// Storage of the padded input, kept between calls (one convolution runs at a time: the addon serialises calls and
// no driver pads twice at once). Reusing it spares a fresh zero-filled allocation per call (84 MB per 32-channel
// 40x56x40 layer at batch 9: page faults plus a memset); pad_input writes every element itself.
Buf g_pad;
// The Winograd weight gradient's split output gradient (beside g_pad's split input).
Buf g_pad2;

void pad_input(const float* x, const Geo& g, Padded& P) {
  const long nph = g.sd * g.sh * g.sw;
  P.Dp = g.od + (g.kd - 1) / g.sd, P.Hp = g.oh + (g.kh - 1) / g.sh, P.Wp = g.ow + (g.kw - 1) / g.sw;
  P.Sp = P.Dp * P.Hp * P.Wp;
  P.sample = nph * g.ci * P.Sp;
  const long total = g.n * P.sample, slack = P.Hp * P.Wp + 1024;
  float* dst = P.data = g_pad.get(static_cast<size_t>(total + slack));
  std::memset(dst + total, 0, slack * 4);
  pool().run(g.n * nph * g.ci, [&](long t, int) {
    const long c = t % g.ci, ph = (t / g.ci) % nph, b = t / (g.ci * nph);
    const long rz = ph / (g.sh * g.sw), ry = (ph / g.sw) % g.sh, rx = ph % g.sw;
    const float* src = x + (b * g.ci + c) * g.S();
    float* o = dst + b * P.sample + (ph * g.ci + c) * P.Sp;
    // valid l range: 0 <= l*sw + rx - pw < w
    const long l0 = std::max(0L, cdiv(g.pw - rx, g.sw)), l1 = std::min(P.Wp, fdiv(g.w - 1 + g.pw - rx, g.sw) + 1);
    for (long i = 0; i < P.Dp; i++) {
      const long zi = i * g.sd + rz - g.pd;
      float* plane = o + i * P.Hp * P.Wp;
      if (zi < 0 || zi >= g.d) {
        std::memset(plane, 0, P.Hp * P.Wp * 4);
        continue;
      }
      for (long j = 0; j < P.Hp; j++) {
        const long yi = j * g.sh + ry - g.ph;
        float* d = plane + j * P.Wp;
        if (yi < 0 || yi >= g.h || l1 <= l0) {
          std::memset(d, 0, P.Wp * 4);
          continue;
        }
        const float* s = src + (zi * g.h + yi) * g.w + rx - g.pw;
        std::memset(d, 0, l0 * 4);
        if (g.sw == 1) std::memcpy(d + l0, s + l0, (l1 - l0) * 4);
        else
          for (long l = l0; l < l1; l++) d[l] = s[l * g.sw];
        std::memset(d + l1, 0, (P.Wp - l1) * 4);
      }
    }
  });
}

/** Offsets of the im2col rows r = (c, a, e, f) inside one sample of Xph. */
std::vector<long> row_offsets(const Geo& g, const Padded& P) {
  std::vector<long> off(g.R());
  long r = 0;
  for (long c = 0; c < g.ci; c++)
    for (long a = 0; a < g.kd; a++)
      for (long e = 0; e < g.kh; e++)
        for (long f = 0; f < g.kw; f++) {
          const long ph = ((a % g.sd) * g.sh + e % g.sh) * g.sw + f % g.sw;
          off[r++] = (ph * g.ci + c) * P.Sp + ((a / g.sd) * P.Hp + e / g.sh) * P.Wp + f / g.sw;
        }
  return off;
}

/**
 * Output columns of the direct path: q over one sample's padded volume, q = (z*Hp + y)*Wp + x for z < od; the
 * columns with y >= oh or x >= ow are computed and dropped. f(q, len, yOff) is called for each run of valid columns
 * inside [q0, q0 + n), yOff being the output offset (within one channel) of column q.
 */
template <class F>
void valid_runs(const Geo& g, const Padded& P, long q0, long n, F&& f) {
  const long hw = P.Hp * P.Wp;
  for (long q = q0; q < q0 + n;) {
    const long z = q / hw, rem = q - z * hw, yy = rem / P.Wp, xx = rem - yy * P.Wp;
    const long rowEnd = std::min(q0 + n, q - xx + P.Wp);
    if (yy < g.oh && xx < g.ow) f(q, std::min(g.ow, xx + rowEnd - q) - xx, (z * g.oh + yy) * g.ow + xx);
    q = rowEnd;
  }
}

void conv_fwd_direct(const float* x, const float* w, const float* bias, float* y, const Geo& g) {
  const Kernels& kn = kernels();
  const long M = g.co, R = g.R(), nr = kn.nr, mr = kn.mr, Mp = rup(M, mr);
  Padded P;
  pad_input(x, g, P);
  const std::vector<long> off = row_offsets(g, P);
  std::vector<float> apv(Mp * R + 16);
  pack_a_parallel(w, M, R, R, 1, mr, apv.data());
  const float* Ap = apv.data();
  const long L = (g.od - 1) * P.Hp * P.Wp + g.oh * P.Wp;
  long ntl = cdiv(L, 256);
  ntl = std::max(ntl, std::min(cdiv(2L * pool().size(), g.n), cdiv(L, nr)));
  const long pt = rup(cdiv(L, ntl), nr);
  ntl = cdiv(L, pt);
  // K blocks: with few output channels (Mp <= 32) the A panels of one block and the B rows they share stay in L1
  // at 256 rows (measured +6-9% GFLOP per CPU-s at 32 channels, 1 thread, AVX2); 512 otherwise.
  const long kmax = Mp <= 32 ? 256 : 512;
  const long nk = (R + kmax - 1) / kmax, kc = (R + nk - 1) / nk;
  const long P_ = g.P();
  pool().run(g.n * ntl, [&](long task, int) {
    const long b = task / ntl, q0 = (task % ntl) * pt;
    const long nq = std::min(pt, L - q0), ncols = rup(nq, nr);
    const float* B = P.data + b * P.sample + q0;
    float* C = tl_c.get(Mp * ncols);
    for (long k0 = 0; k0 < R; k0 += kc) {
      const long kl = std::min(kc, R - k0);
      for (long j0 = 0; j0 < ncols; j0 += nr)
        for (long i0 = 0; i0 < Mp; i0 += mr)
          kn.nni(kl, Ap + i0 * R + k0 * mr, off.data() + k0, B + j0, C + i0 * ncols + j0, ncols, k0 > 0);
    }
    valid_runs(g, P, q0, nq, [&](long q, long len, long yoff) {
      for (long i = 0; i < M; i++) {
        const float bi = bias ? bias[i] : 0.f;
        float* yo = y + (b * M + i) * P_ + yoff;
        const float* ci = C + i * ncols + (q - q0);
        for (long t = 0; t < len; t++) yo[t] = ci[t] + bi;
      }
    });
  });
}

/**
 * Runs f(task, slot) for task in [0, ntasks): the tasks are split into `nslots` contiguous ranges, each range run in
 * order by one thread. Per-slot partial sums (weight gradients) then have a fixed summation order for a given thread
 * count, whichever thread runs which range: training on this backend is reproducible run to run (a per-thread
 * accumulator, filled by whichever tasks a thread happened to take, made it differ in the last float32 bits).
 */
template <class F>
void slotted_run(Pool& pl, long ntasks, long nslots, const F& f) {
  nslots = std::max(1L, std::min(nslots, ntasks));
  pl.run(nslots, [&](long s, int) {
    for (long t = s * ntasks / nslots, e = (s + 1) * ntasks / nslots; t < e; t++) f(t, s);
  });
}

void conv_bwd_filter_direct(const float* x, const float* dy, float* dw, const Geo& g, bool accumulate) {
  const Kernels& kn = kernels();
  Pool& pl = pool();
  const long M = g.co, R = g.R(), vw = kn.vw, Mp = rup(M, kn.mr2), Rp = rup(R, kn.nr2);
  Padded P;
  pad_input(x, g, P);
  std::vector<long> off = row_offsets(g, P);
  const long L = (g.od - 1) * P.Hp * P.Wp + g.oh * P.Wp;
  // Long chunks keep the per-call horizontal sums rare (~6% at 4096 columns); locality comes from the i-groups below.
  const long nch = cdiv(L, 4096), lc = rup(cdiv(L, nch), vw);
  const int T = pl.size();
  // split the rows of dW too when there are fewer chunks than threads
  const long nrb = Rp / kn.nr2, rsplit = std::min(nrb, std::max(1L, cdiv(2L * T, g.n * nch)));
  const long rper = cdiv(nrb, rsplit) * kn.nr2;
  std::vector<float> zeros(lc + 64, 0.f);
  std::vector<std::vector<float>> acc(T);
  const long P_ = g.P();
  slotted_run(pl, g.n * nch * rsplit, T, [&](long task, long slot) {
    std::vector<float>& a = acc[slot];
    if (a.empty()) a.assign(Mp * Rp, 0.f);
    const long b = task / (nch * rsplit), c = (task / rsplit) % nch, rs = task % rsplit;
    const long q0 = c * lc, nq = std::min(lc, L - q0), len = rup(nq, vw);
    const long rBeg = rs * rper, rEnd = std::min(Rp, rBeg + rper);
    if (rBeg >= rEnd) return;
    float* A = tl_a.get(Mp * len);
    std::memset(A, 0, Mp * len * 4);
    valid_runs(g, P, q0, nq, [&](long q, long n, long yoff) {
      for (long i = 0; i < M; i++) std::memcpy(A + i * len + (q - q0), dy + (b * M + i) * P_ + yoff, n * 4);
    });
    const float* base = P.data + b * P.sample + q0;
    const float* rows[16];
    // groups of dY rows small enough (~512 KiB) to stay in L2 while every r-block streams past them
    const long ig = std::max<long>(kn.mr2, (131072 / len) / kn.mr2 * kn.mr2);
    for (long i1 = 0; i1 < Mp; i1 += ig)
      for (long r0 = rBeg; r0 < rEnd; r0 += kn.nr2) {
        for (int j = 0; j < kn.nr2; j++) rows[j] = r0 + j < R ? base + off[r0 + j] : zeros.data();
        for (long i0 = i1; i0 < std::min(Mp, i1 + ig); i0 += kn.mr2)
          kn.ntp(len, A + i0 * len, len, rows, a.data() + i0 * Rp + r0, Rp);
      }
  });
  for (long i = 0; i < M; i++)
    for (long r = 0; r < R; r++) {
      float s = 0.f;
      for (int t = 0; t < T; t++)
        if (!acc[t].empty()) s += acc[t][i * Rp + r];
      dw[i * R + r] = accumulate ? dw[i * R + r] + s : s;
    }
}

// ---- Winograd path for 3x3x3, stride 1, pad 1 (the convolutions of every nnU-Net stage after its first):
// F(2x2x2, 3x3x3), each axis F(2, 3) (Lavin & Gray 2016). Output tiles of 2x2x2 read 4x4x4 input tiles; per tile
// and channel the 64 transformed values V = B^T d B enter 64 independent GEMMs M[pos] = U[pos] (cOut x cIn, the
// transformed weights G g G^T) * V[pos] (cIn x tiles), and y = A^T M A. 64 instead of 216 multiply-adds per output
// pair of channels (3.4x fewer); the transforms only add and subtract (G has halves), so the results differ from
// the direct sum by float rounding only. Tasks own (sample, block of tiles): no reduction across threads.

/** Input of the Winograd path: zero-padded by 1, x split into even / odd columns: [n][c][Zp][Yp][2][Wh]. */
struct WinoInput {
  long TZ, TY, TX;   // tiles per axis (output size / 2, rounded up)
  long Zp, Yp, Wh;   // padded rows, and the length of one even or odd half row (TX + 16: vector over-reads)
  long chan() const { return Zp * Yp * 2 * Wh; }
};

void wino_split_input(const float* x, const Geo& g, const WinoInput& I, float* dst) {
  pool().run(g.n * g.ci, [&](long t, int) {
    const float* src = x + t * g.S();
    float* o = dst + t * I.chan();
    for (long zz = 0; zz < I.Zp; zz++)
      for (long yy = 0; yy < I.Yp; yy++) {
        float* e = o + (zz * I.Yp + yy) * 2 * I.Wh;
        float* od = e + I.Wh;
        const long z = zz - 1, y = yy - 1;
        if (z < 0 || z >= g.d || y < 0 || y >= g.h) {
          std::memset(e, 0, 2 * I.Wh * 4);
          continue;
        }
        const float* r = src + (z * g.h + y) * g.w;
        // padded column 2j is x = 2j - 1 (even half), 2j + 1 is x = 2j (odd half)
        std::memset(e, 0, 2 * I.Wh * 4);
        for (long xx = 1; xx < g.w; xx += 2) e[(xx + 1) / 2] = r[xx];
        for (long xx = 0; xx < g.w; xx += 2) od[xx / 2] = r[xx];
      }
  });
}

/** U[pos][Mp/mr][ci][mr] (zero rows up to Mp) = G w[o][c] G^T per axis, G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]. */
void wino_weights(const float* w, long co, long ci, long Mp, int mr, float* U) {
  pool().run(Mp, [&](long o, int) {
    for (long c = 0; c < ci; c++) {
      float u[64];
      if (o >= co) {
        std::fill(u, u + 64, 0.f);
      } else {
        const float* k = w + (o * ci + c) * 27;
        float a[3][3][4], b[3][4][4];
        for (int z = 0; z < 3; z++)
          for (int y = 0; y < 3; y++) {
            const float* r = k + (z * 3 + y) * 3;
            a[z][y][0] = r[0], a[z][y][1] = 0.5f * (r[0] + r[1] + r[2]), a[z][y][2] = 0.5f * (r[0] - r[1] + r[2]);
            a[z][y][3] = r[2];
          }
        for (int z = 0; z < 3; z++)
          for (int x = 0; x < 4; x++) {
            const float r0 = a[z][0][x], r1 = a[z][1][x], r2 = a[z][2][x];
            b[z][0][x] = r0, b[z][1][x] = 0.5f * (r0 + r1 + r2), b[z][2][x] = 0.5f * (r0 - r1 + r2), b[z][3][x] = r2;
          }
        for (int y = 0; y < 4; y++)
          for (int x = 0; x < 4; x++) {
            const float r0 = b[0][y][x], r1 = b[1][y][x], r2 = b[2][y][x];
            u[(0 * 4 + y) * 4 + x] = r0, u[(1 * 4 + y) * 4 + x] = 0.5f * (r0 + r1 + r2);
            u[(2 * 4 + y) * 4 + x] = 0.5f * (r0 - r1 + r2), u[(3 * 4 + y) * 4 + x] = r2;
          }
      }
      for (int pos = 0; pos < 64; pos++) U[pos * Mp * ci + (o / mr) * ci * mr + c * mr + o % mr] = u[pos];
    }
  });
}

/**
 * A stride of at least n floats that is an odd multiple of 16 floats (64 bytes): the transforms touch 64 rows at
 * this stride at once, and a power-of-two-ish stride maps them all onto a few L1 sets (measured 2-3x slower).
 */
long odd_stride(long n) {
  const long s = rup(n, 16);
  return (s / 16) % 2 ? s : s + 16;
}

/** Calls f(tz, ty, tx, n, off) for each run of tiles along x inside tiles [t0, t0 + nt) of one sample. */
template <class F>
void tile_runs(const WinoInput& I, long t0, long nt, F&& f) {
  for (long t = t0; t < t0 + nt;) {
    const long tz = t / (I.TY * I.TX), r = t % (I.TY * I.TX), ty = r / I.TX, tx = r % I.TX;
    const long n = std::min(I.TX - tx, t0 + nt - t);
    f(tz, ty, tx, n, t - t0);
    t += n;
  }
}

WinoInput wino_input(const Geo& g) {
  WinoInput I;
  I.TZ = cdiv(g.od, 2), I.TY = cdiv(g.oh, 2), I.TX = cdiv(g.ow, 2);
  I.Zp = 2 * I.TZ + 2, I.Yp = 2 * I.TY + 2, I.Wh = I.TX + 16;
  return I;
}

void conv_fwd_winograd(const float* x, const float* w, const float* bias, float* y, const Geo& g) {
  const Kernels& kn = kernels();
  const long M = g.co, ci = g.ci, nr = kn.nr, mr = kn.mr, Mp = rup(M, mr), P = g.P();
  const WinoInput I = wino_input(g);
  float* X = g_pad.get(static_cast<size_t>(g.n * ci * I.chan() + 64));
  std::memset(X + g.n * ci * I.chan(), 0, 64 * 4);
  wino_split_input(x, g, I, X);
  std::vector<float> U(64 * Mp * ci + 16);
  wino_weights(w, M, ci, Mp, kn.mr, U.data());
  // tiles per task: V and M of one block (64 * (ci + Mp) * nt floats) near L2's size, at least one nr-wide panel
  const long T = I.TZ * I.TY * I.TX;
  long ntp = std::max(nr, (3072 / (ci + Mp)) / nr * nr);
  ntp = std::min(ntp, rup(cdiv(T * g.n, 2L * pool().size()), nr));
  const long nblk = cdiv(T, ntp), vrs = ntp + 16, vps = odd_stride(ci * vrs), cps = odd_stride(Mp * ntp);
  std::vector<long> off(ci);
  for (long k = 0; k < ci; k++) off[k] = k * vrs;
  pool().run(g.n * nblk, [&](long task, int) {
    const long b = task / nblk, t0 = (task % nblk) * ntp, nt = std::min(ntp, T - t0);
    float* V = tl_a.get(64 * vps + 16);
    const float* Xb = X + b * ci * I.chan();
    for (long c = 0; c < ci; c++)
      tile_runs(I, t0, nt, [&](long tz, long ty, long tx, long n, long o) {
        kn.wi(n, Xb + c * I.chan() + (2 * tz * I.Yp + 2 * ty) * 2 * I.Wh + tx, I.Yp * 2 * I.Wh, 2 * I.Wh, I.Wh,
              V + c * vrs + o, vps, 1);
      });
    float* C = tl_c.get(64 * cps + 16);
    for (long pos = 0; pos < 64; pos++) {
      const float* A = U.data() + pos * Mp * ci;
      const float* B = V + pos * vps;
      float* Cp = C + pos * cps;
      for (long j0 = 0; j0 < ntp; j0 += nr)
        for (long i0 = 0; i0 < Mp; i0 += mr) kn.nni(ci, A + i0 * ci, off.data(), B + j0, Cp + i0 * ntp + j0, ntp, 0);
    }
    for (long o = 0; o < M; o++) {
      float* yo = y + (b * M + o) * P;
      tile_runs(I, t0, nt, [&](long tz, long ty, long tx, long n, long off0) {
        kn.wo(n, C + o * ntp + off0, cps, yo + (2 * tz * g.oh + 2 * ty) * g.ow + 2 * tx, g.oh * g.ow, g.ow,
              static_cast<int>(std::min(2L, g.od - 2 * tz)), static_cast<int>(std::min(2L, g.oh - 2 * ty)),
              g.ow - 2 * tx, bias ? bias[o] : 0.f);
      });
    }
  });
}

/** dy split into even / odd x like the input: [n][co][2 TZ][2 TY][2][Wh], zero beyond the output. */
void wino_split_dy(const float* dy, const Geo& g, const WinoInput& I, float* D) {
  const long Zd = 2 * I.TZ, Yd = 2 * I.TY, dchan = Zd * Yd * 2 * I.Wh, P = g.P();
  pool().run(g.n * g.co, [&](long t, int) {
    const float* src = dy + t * P;
    float* o = D + t * dchan;
    for (long z = 0; z < Zd; z++)
      for (long y = 0; y < Yd; y++) {
        float* e = o + (z * Yd + y) * 2 * I.Wh;
        float* od = e + I.Wh;
        if (z >= g.od || y >= g.oh) {
          std::memset(e, 0, 2 * I.Wh * 4);
          continue;
        }
        const float* r = src + (z * g.oh + y) * g.ow;
        std::memset(e, 0, 2 * I.Wh * 4);
        for (long xx = 0; xx < g.ow; xx += 2) e[xx / 2] = r[xx];
        for (long xx = 1; xx < g.ow; xx += 2) od[xx / 2] = r[xx];
      }
  });
}

/**
 * dw[o][c] (= or +=) G^T Q G per axis, Q[pos] = the slots' sums (slot order), slot layout [64][Mp][Np]; G^T maps
 * (q0, q1, q2, q3) to (q0 + (q1 + q2)/2, (q1 - q2)/2, (q1 + q2)/2 + q3).
 */
void wino_weight_grad(const std::vector<std::vector<float>>& acc, long M, long ci, long Mp, long Np, float* dw,
                      bool accumulate) {
  pool().run(M, [&](long o, int) {
    for (long c = 0; c < ci; c++) {
      float q[64];
      for (int pos = 0; pos < 64; pos++) {
        float s = 0.f;
        for (const auto& a : acc)
          if (!a.empty()) s += a[(pos * Mp + o) * Np + c];
        q[pos] = s;
      }
      float a[4][4][3], b[4][3][3];
      for (int z = 0; z < 4; z++)
        for (int y = 0; y < 4; y++) {
          const float* r = q + (z * 4 + y) * 4;
          const float h = 0.5f * (r[1] + r[2]);
          a[z][y][0] = r[0] + h, a[z][y][1] = 0.5f * (r[1] - r[2]), a[z][y][2] = h + r[3];
        }
      for (int z = 0; z < 4; z++)
        for (int x = 0; x < 3; x++) {
          const float h = 0.5f * (a[z][1][x] + a[z][2][x]);
          b[z][0][x] = a[z][0][x] + h, b[z][1][x] = 0.5f * (a[z][1][x] - a[z][2][x]), b[z][2][x] = h + a[z][3][x];
        }
      float* d = dw + (o * ci + c) * 27;
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) {
          const float h = 0.5f * (b[1][y][x] + b[2][y][x]);
          const float v[3] = {b[0][y][x] + h, 0.5f * (b[1][y][x] - b[2][y][x]), h + b[3][y][x]};
          for (int z = 0; z < 3; z++) d[(z * 3 + y) * 3 + x] = accumulate ? d[(z * 3 + y) * 3 + x] + v[z] : v[z];
        }
    }
  });
}

/**
 * Weight gradient on the Winograd path: dW = G^T [sum over tiles (A dy A^T) (.) (B^T x B)] G per (o, c), the
 * gradient of the forward's bilinear form. Per task (sample, block of K tiles) the transforms are written straight
 * into the NN kernel's packed panels (dy: [Mp/mr][K][mr], x: [Np/nr][K][nr] per position) and the 64 GEMMs
 * Q[pos] += dY[pos] (cOut x K) * X[pos]^T (K x cIn) accumulate into the task's slot; slots are summed in order.
 */
void conv_bwd_filter_winograd(const float* x, const float* dy, float* dw, const Geo& g, bool accumulate) {
  const Kernels& kn = kernels();
  Pool& pl = pool();
  const long M = g.co, ci = g.ci, nr = kn.nr, mr = kn.mr, Mp = rup(M, mr), Np = rup(ci, nr);
  const WinoInput I = wino_input(g);
  float* X = g_pad.get(static_cast<size_t>(g.n * ci * I.chan() + 64));
  std::memset(X + g.n * ci * I.chan(), 0, 64 * 4);
  wino_split_input(x, g, I, X);
  const long Zd = 2 * I.TZ, Yd = 2 * I.TY, dchan = Zd * Yd * 2 * I.Wh;
  float* D = g_pad2.get(static_cast<size_t>(g.n * M * dchan + 64));
  std::memset(D + g.n * M * dchan, 0, 64 * 4);
  wino_split_dy(dy, g, I, D);
  const long T = I.TZ * I.TY * I.TX;
  const long K = std::clamp(3072 / (Mp + Np), 16L, 256L);
  const long nblk = cdiv(T, K);
  const int nslot = pl.size();
  std::vector<std::vector<float>> acc(nslot);
  slotted_run(pl, g.n * nblk, nslot, [&](long task, long slot) {
    std::vector<float>& Q = acc[slot];
    if (Q.empty()) Q.assign(64 * Mp * Np, 0.f);
    const long b = task / nblk, t0 = (task % nblk) * K, nt = std::min(K, T - t0);
    const long aps = odd_stride(Mp * nt), bps = odd_stride(Np * nt);
    float* A = tl_a.get(64 * aps);
    float* B = tl_b.get(64 * bps);
    const float* Db = D + b * M * dchan;
    const float* Xb = X + b * ci * I.chan();
    for (long pos = 0; pos < 64; pos++) {  // padding rows / columns of the panels
      if (Mp > M) std::memset(A + pos * aps + (M / mr) * nt * mr, 0, (Mp - M / mr * mr) * nt * 4);
      if (Np > ci) std::memset(B + pos * bps + (ci / nr) * nt * nr, 0, (Np - ci / nr * nr) * nt * 4);
    }
    for (long o = 0; o < M; o++)
      tile_runs(I, t0, nt, [&](long tz, long ty, long tx, long n, long off) {
        kn.wd(n, Db + o * dchan + (2 * tz * Yd + 2 * ty) * 2 * I.Wh + tx, Yd * 2 * I.Wh, 2 * I.Wh, I.Wh,
              A + (o / mr) * nt * mr + o % mr + off * mr, aps, mr);
      });
    for (long c = 0; c < ci; c++)
      tile_runs(I, t0, nt, [&](long tz, long ty, long tx, long n, long off) {
        kn.wi(n, Xb + c * I.chan() + (2 * tz * I.Yp + 2 * ty) * 2 * I.Wh + tx, I.Yp * 2 * I.Wh, 2 * I.Wh, I.Wh,
              B + (c / nr) * nt * nr + c % nr + off * nr, bps, nr);
      });
    for (long pos = 0; pos < 64; pos++)
      for (long j0 = 0; j0 < Np; j0 += nr)
        for (long i0 = 0; i0 < Mp; i0 += mr)
          kn.nn(nt, A + pos * aps + i0 * nt, B + pos * bps + j0 * nt, Q.data() + (pos * Mp + i0) * Np + j0, Np, 1);
  });
  wino_weight_grad(acc, M, ci, Mp, Np, dw, accumulate);
}

int g_path = 0;  // 0 auto, 1 direct whenever stride 1, 2 always im2col, 3 Winograd whenever eligible

/** Direct path for stride 1 unless the padded column space is over twice the output (tiny volumes: im2col). Measured:
 * direct beats im2col up to ~2x waste (10x14x10: 74 vs 60 GFLOP per CPU-s forward), about even at 2.5x (5x7x5). */
bool use_direct(const Geo& g) {
  if (g_path == 2) return false;
  if (g_path == 1) return true;
  // Strided convolutions work on the direct path too (polyphase), but measured no faster than im2col (3x3x3 stride
  // 2: 61 vs 58 GFLOP per CPU-s forward) or slower (2x2x2 stride 2: 33 vs 52; every phase row is a separate stream
  // with no reuse between taps), so 'auto' keeps them on im2col.
  if (g.sd != 1 || g.sh != 1 || g.sw != 1) return false;
  const double Hp = g.oh + (g.kh - 1) / g.sh, Wp = g.ow + (g.kw - 1) / g.sw;
  const double cols = (g.od - 1) * Hp * Wp + g.oh * Wp;
  return cols <= 2.0 * static_cast<double>(g.P());
}

/** NNUNET_CONV_WINOGRAD=0 in the environment: 'auto' never picks Winograd (the previous arithmetic, bit for bit). */
bool winograd_allowed() {
  static const bool on = [] {
    const char* e = std::getenv("NNUNET_CONV_WINOGRAD");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

/**
 * Winograd for 3x3x3 stride 1 pad 1. 'auto' (measured per layer of the Hippocampus network, AVX2, 2 threads, batch 2,
 * GFLOP per CPU-s direct -> Winograd): forward / backward-data with >= 8 channels in and out and >= 512 outputs per
 * sample (32->32 at 40x56x40: 77 -> 130, 64->64 at 20x28x20: 78 -> 152, 128->128 at 10x14x10: 67 -> 119; not at
 * 5x7x5, 256->256: 47 -> 31, the tiles overhang the volume); weight gradient only with >= 64 output channels and
 * input channels filling the micro-kernel's nr-wide panels to >= 8/9 (64->64: 71 -> 97, 128->128: 57 -> 92; 32->32,
 * panels 2/3 full: 72 -> 59). 'winograd': every eligible conv; 'direct' / 'im2col': never.
 */
bool use_winograd(const Geo& g, bool weight_grad) {
  const bool fits = g.kd == 3 && g.kh == 3 && g.kw == 3 && g.sd == 1 && g.sh == 1 && g.sw == 1 && g.pd == 1 &&
                    g.ph == 1 && g.pw == 1;
  if (!fits || g_path == 1 || g_path == 2) return false;
  if (g_path == 3) return true;
  if (!winograd_allowed() || g.ci < 8 || g.co < 8 || g.P() < 512) return false;
  if (!weight_grad) return true;
  const long nr = kernels().nr;
  return g.co >= 64 && 9 * g.ci >= 8 * rup(g.ci, nr);
}

}  // namespace

bool set_isa(const char* name) {
  std::string n = name ? name : "auto";
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  // NNUNET_NO_AVX512 / NNUNET_NO_AVX2: the build script could not compile that unit (old compiler)
#ifdef NNUNET_NO_AVX512
  const bool has512 = false;
#else
  const bool has512 = __builtin_cpu_supports("avx512f");
#endif
#ifdef NNUNET_NO_AVX2
  const bool has2 = false;
#else
  const bool has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  if (n == "auto") {
    g_kernels = &kernels_generic;
#ifndef NNUNET_NO_AVX2
    if (has2) g_kernels = &kernels_avx2;
#endif
#ifndef NNUNET_NO_AVX512
    if (has512) g_kernels = &kernels_avx512;
#endif
    return true;
  }
#ifndef NNUNET_NO_AVX512
  if (n == "avx512") return has512 && (g_kernels = &kernels_avx512);
#endif
#ifndef NNUNET_NO_AVX2
  if (n == "avx2") return has2 && (g_kernels = &kernels_avx2);
#endif
#else
  if (n == "auto") return (g_kernels = &kernels_generic);
#endif
  if (n == "generic") return (g_kernels = &kernels_generic);
  return false;
}

const Kernels& kernels() {
  if (!g_kernels) {
    const char* e = std::getenv("NNUNET_CPU_ISA");
    if (!e || !set_isa(e)) set_isa("auto");
  }
  return *g_kernels;
}

bool set_path(const char* name) {
  std::string n = name ? name : "auto";
  if (n == "auto") g_path = 0;
  else if (n == "direct") g_path = 1;
  else if (n == "im2col") g_path = 2;
  else if (n == "winograd") g_path = 3;
  else return false;
  return true;
}

Pool& thread_pool() { return pool(); }
void set_threads(int n) { pool().resize(n > 0 ? n : default_threads()); }
int threads() { return pool().size(); }

void conv_fwd(const float* x, const float* w, const float* bias, float* y, const Geo& g) {
  if (use_winograd(g, false)) return conv_fwd_winograd(x, w, bias, y, g);
  if (use_direct(g)) return conv_fwd_direct(x, w, bias, y, g);
  const Kernels& kn = kernels();
  Pool& pl = pool();
  const long M = g.co, R = g.R(), P = g.P(), S = g.S(), nr = kn.nr;
  std::vector<float> apv(rup(M, kn.mr) * R + 16);
  float* Ap = apv.data();
  pack_a_parallel(w, M, R, R, 1, kn.mr, Ap);
  long pt = std::max(nr, (196608 / std::max(R, 1L)) / nr * nr);
  const long minTiles = cdiv(2L * pl.size(), g.n);
  pt = std::min({pt, rup(P, nr), std::max(nr, rup(cdiv(P, minTiles), nr))});
  const long ntiles = cdiv(P, pt);
  pl.run(g.n * ntiles, [&](long task, int) {
    const long b = task / ntiles, p0 = (task % ntiles) * pt, np = std::min(pt, P - p0);
    float* Bp = tl_b.get(R * rup(np, nr));
    im2col_tile(x + b * g.ci * S, g, p0, np, nr, R, Bp);
    float* C = y + b * M * P + p0;
    gemm_tile(kn, M, R, Ap, Bp, np, C, P);
    if (bias)
      for (long i = 0; i < M; i++)
        for (long j = 0; j < np; j++) C[i * P + j] += bias[i];
  });
}

void conv_bwd_data(const float* dy, const float* w, float* dx, const Geo& g) {
  const long kvol = g.kd * g.kh * g.kw, R = g.R(), P = g.P(), S = g.S();
  if (g.sd == 1 && g.sh == 1 && g.sw == 1 && g.pd <= g.kd - 1 && g.ph <= g.kh - 1 && g.pw <= g.kw - 1) {
    // dx = conv(dy, flip(w)^T) with padding k - 1 - p: a forward convolution, no scatter.
    Geo t{g.n, g.co, g.od, g.oh, g.ow, g.ci, g.kd, g.kh, g.kw, 1, 1, 1,
          g.kd - 1 - g.pd, g.kh - 1 - g.ph, g.kw - 1 - g.pw, g.d, g.h, g.w};
    std::vector<float> wt(static_cast<size_t>(g.ci) * g.co * kvol);
    pool().run(g.ci, [&](long c, int) {
      for (long o = 0; o < g.co; o++)
        for (long q = 0; q < kvol; q++) wt[(c * g.co + o) * kvol + (kvol - 1 - q)] = w[(o * g.ci + c) * kvol + q];
    });
    conv_fwd(dy, wt.data(), nullptr, dx, t);
    return;
  }
  const Kernels& kn = kernels();
  Pool& pl = pool();
  const long nr = kn.nr, co = g.co;
  const long nchunks = std::min(g.ci, std::max(1L, cdiv(4L * pl.size(), g.n)));
  const long cper = cdiv(g.ci, nchunks);
  pl.run(g.n * nchunks, [&](long task, int) {
    const long b = task / nchunks, c0 = (task % nchunks) * cper, c1 = std::min(g.ci, c0 + cper);
    if (c0 >= c1) return;
    const long r0 = c0 * kvol, r1 = c1 * kvol, Mr = r1 - r0;
    float* Ap = tl_a.get(rup(Mr, kn.mr) * co);
    pack_a(w + r0, Mr, co, 1, R, kn.mr, Ap);
    float* dxb = dx + b * g.ci * S;
    std::memset(dxb + c0 * S, 0, (c1 - c0) * S * 4);
    const long pt = std::min(rup(P, nr), std::max(nr, (262144 / Mr) / nr * nr));
    for (long p0 = 0; p0 < P; p0 += pt) {
      const long np = std::min(pt, P - p0), npad = rup(np, nr);
      float* Bp = tl_b.get(co * npad);
      pack_b_rows(dy + b * co * P + p0, P, co, np, nr, Bp);
      float* C = tl_c.get(Mr * npad);
      gemm_tile(kn, Mr, co, Ap, Bp, np, C, npad);
      col2im_tile(C, npad, r0, r1, g, p0, np, dxb);
    }
  });
}

void conv_bwd_filter(const float* x, const float* dy, float* dw, const Geo& g, bool accumulate) {
  if (use_winograd(g, true)) return conv_bwd_filter_winograd(x, dy, dw, g, accumulate);
  if (use_direct(g)) return conv_bwd_filter_direct(x, dy, dw, g, accumulate);
  const Kernels& kn = kernels();
  Pool& pl = pool();
  const long M = g.co, R = g.R(), P = g.P(), S = g.S(), vw = kn.vw;
  const long Mp = rup(M, kn.mr2), Rp = rup(R, kn.nr2);
  long pt = std::min(2048L, std::max(vw, (4194304 / Rp) / vw * vw));
  pt = std::min(pt, rup(P, vw));
  const long ntiles = cdiv(P, pt);
  const int T = pl.size();
  std::vector<std::vector<float>> acc(T);
  slotted_run(pl, g.n * ntiles, T, [&](long task, long slot) {
    std::vector<float>& a = acc[slot];
    if (a.empty()) a.assign(Mp * Rp, 0.f);
    const long b = task / ntiles, p0 = (task % ntiles) * pt, np = std::min(pt, P - p0), npad = rup(np, vw);
    float* B = tl_b.get(Rp * npad);
    im2col_tile(x + b * g.ci * S, g, p0, np, npad, Rp, B);
    float* A = tl_a.get(Mp * npad);
    for (long i = 0; i < Mp; i++) {
      float* d = A + i * npad;
      if (i < M) {
        std::memcpy(d, dy + (b * M + i) * P + p0, np * 4);
        std::memset(d + np, 0, (npad - np) * 4);
      } else {
        std::memset(d, 0, npad * 4);
      }
    }
    for (long r0 = 0; r0 < Rp; r0 += kn.nr2)
      for (long i0 = 0; i0 < Mp; i0 += kn.mr2)
        kn.nt(npad, A + i0 * npad, npad, B + r0 * npad, npad, a.data() + i0 * Rp + r0, Rp);
  });
  for (long i = 0; i < M; i++)
    for (long r = 0; r < R; r++) {
      float s = 0.f;
      for (int t = 0; t < T; t++)
        if (!acc[t].empty()) s += acc[t][i * Rp + r];
      dw[i * R + r] = accumulate ? dw[i * R + r] + s : s;
    }
}

}  // namespace nnunet
