// Convolution drivers of the cpu-native backend (NCDHW activations, [cOut, cIn, kd, kh, kw] weights, float32).
#pragma once
#include "kernels.h"

namespace nnunet {

/** Geometry of one convolution: input [n, ci, d, h, w], weights [co, ci, kd, kh, kw], output [n, co, od, oh, ow]. */
struct Geo {
  long n, ci, d, h, w;
  long co, kd, kh, kw;
  long sd, sh, sw, pd, ph, pw;
  long od, oh, ow;
  long S() const { return d * h * w; }
  long P() const { return od * oh * ow; }
  long R() const { return ci * kd * kh * kw; }
};

/** Selects the micro-kernel level ("avx512", "avx2", "generic", or "auto"); returns false if not supported here. */
bool set_isa(const char* name);
const Kernels& kernels();
/** Algorithm: "auto", "direct" / "im2col" (stride 1; never Winograd), "winograd" (every 3x3x3 stride-1 pad-1
 * convolution; tests). See use_winograd and use_direct in conv.cpp. */
bool set_path(const char* name);
void set_threads(int n);
int threads();
class Pool;
/** The process-wide thread pool of the convolutions and the other ops (not re-entrant). */
Pool& thread_pool();

/** y = conv(x, w) + bias (bias may be null). */
void conv_fwd(const float* x, const float* w, const float* bias, float* y, const Geo& g);
/** dx = dL/dx given dy. */
void conv_bwd_data(const float* dy, const float* w, float* dx, const Geo& g);
/** dw = dL/dw given x and dy (dw += when accumulate). */
void conv_bwd_filter(const float* x, const float* dy, float* dw, const Geo& g, bool accumulate = false);

}  // namespace nnunet
