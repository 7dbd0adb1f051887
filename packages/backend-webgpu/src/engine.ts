/**
 * The WebGPU engine under the backend: one `GPUDevice`, a pipeline cache, a buffer pool, and a command encoder
 * that collects compute dispatches until a read (or `flush`) submits them. Nothing here touches Node or the DOM.
 *
 * Buffers are `STORAGE | COPY_SRC | COPY_DST` float32/int32/u32 arrays. Releasing a buffer returns it to the
 * pool at once: WebGPU orders every later use after the earlier ones on the queue (each dispatch is its own
 * usage scope), so reuse in submission order is safe without waiting for the GPU.
 */

// WebGPU's numeric flags (the spec's values), so no global `GPUBufferUsage` is needed (Dawn in Node has none).
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;
const MAP_MODE_READ = 0x1;
const SHADER_STAGE_COMPUTE = 0x4;

/** Threads per workgroup of the 1D kernels (elementwise, reductions). */
export const WG = 256;
/** Most workgroups per dispatch dimension WebGPU guarantees. */
export const MAX_GROUPS = 65535;

/** One uniform value: an integer (`u32`/`i32` in WGSL), a float (`f32`). */
export type Uniform = { u: number } | { i: number } | { f: number };

/** A compiled kernel: WGSL source, the entry point and how many storage bindings it has. */
export interface KernelSource {
  /** Cache key; same key, same source. */
  key: string;
  /** Full WGSL; binding 0 is the uniform block when `uniforms` is non-empty, storage buffers follow. */
  code: string;
  /**
   * Values of the code's `override` constants. The pipeline is specialised on them (the shader compiler sees
   * constants: divisions by them become multiplications, loops over them unroll); one pipeline per distinct set.
   */
  constants?: Record<string, number>;
}

/**
 * The bind group layout a kernel declares (`@binding(i) var<uniform | storage, read | storage, read_write>`), so a
 * binding the code does not use stays in the layout (WebGPU's `'auto'` layout would drop it).
 */
function layoutOf(code: string): GPUBindGroupLayoutEntry[] {
  const out: GPUBindGroupLayoutEntry[] = [];
  for (const m of code.matchAll(/@binding\((\d+)\)\s*var<(uniform|storage,\s*read_write|storage,\s*read)>/g)) {
    const type: GPUBufferBindingType = m[2] === 'uniform' ? 'uniform' : m[2]!.includes('read_write') ? 'storage' : 'read-only-storage';
    out.push({ binding: Number(m[1]), visibility: SHADER_STAGE_COMPUTE, buffer: { type } });
  }
  return out;
}

function roundBytes(bytes: number): number {
  // pool buckets: multiples of 256 B below 1 MiB, of 1/16 of the next power of two above (<= 6% waste)
  const b = Math.max(16, bytes);
  if (b <= 1 << 20) return Math.ceil(b / 256) * 256;
  const step = 2 ** Math.floor(Math.log2(b)) / 16;
  return Math.ceil(b / step) * step;
}

/** Device, pipelines, buffers and the open command encoder. */
export class Engine {
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  readonly hasF16: boolean;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly free = new Map<number, GPUBuffer[]>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingUniforms: GPUBuffer[] = [];
  private dispatches = 0;
  /** Bytes currently held by live tensors (not the pool). */
  liveBytes = 0;
  /** Highest `liveBytes` seen. */
  peakBytes = 0;
  /** Bytes of every storage buffer created and not destroyed (live tensors plus the pool): the GPU memory held. */
  heldBytes = 0;
  private lost: string | null = null;
  /**
   * The adapter runs on the CPU (SwiftShader, llvmpipe, WARP: `isSoftwareAdapter`): kernels may pick shapes that
   * suit a CPU's SIMD lanes (the convolution's software tiles) instead of a GPU's.
   */
  readonly software: boolean;

  constructor(device: GPUDevice, opts: { software?: boolean } = {}) {
    this.device = device;
    this.software = opts.software === true;
    this.limits = device.limits;
    this.hasF16 = device.features.has('shader-f16');
    void device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent): void => {
      this.lost ??= `WebGPU error: ${ev.error.message}`;
    };
  }

  /** Throws when the device was lost or a validation error was reported. */
  check(): void {
    if (this.lost) throw new Error(`webgpu: ${this.lost}`);
  }

  /** A storage buffer of at least `bytes` bytes (from the pool when one is free). */
  alloc(bytes: number): GPUBuffer {
    const size = roundBytes(bytes);
    if (size > this.limits.maxStorageBufferBindingSize) {
      throw new Error(
        `webgpu: a ${(size / 2 ** 20).toFixed(1)} MiB tensor exceeds this adapter's maxStorageBufferBindingSize ` +
          `(${(this.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB); use a smaller patch or batch size`,
      );
    }
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    const list = this.free.get(size);
    if (list && list.length) return list.pop()!;
    this.heldBytes += size;
    return this.device.createBuffer({
      size,
      usage: STORAGE | COPY_SRC | COPY_DST,
    });
  }

  private dummies: GPUBuffer[] = [];

  /**
   * A 16-byte buffer bound where a kernel's optional operand is absent (never read or written). `slot` picks one
   * of several, so a dispatch never binds the same buffer as both a read-only and a writable operand.
   */
  dummy(slot = 0): GPUBuffer {
    while (this.dummies.length <= slot) this.dummies.push(this.device.createBuffer({ size: 16, usage: STORAGE | COPY_DST }));
    return this.dummies[slot]!;
  }

  /** Returns a buffer from `alloc` to the pool. */
  release(buf: GPUBuffer): void {
    this.liveBytes -= buf.size;
    const list = this.free.get(buf.size);
    if (list) list.push(buf);
    else this.free.set(buf.size, [buf]);
  }

  /** Destroys every pooled (free) buffer. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.heldBytes -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  private static pipelineKey(k: KernelSource): string {
    return k.constants ? `${k.key}|${Object.entries(k.constants).map(([n, v]) => `${n}=${v}`).join(',')}` : k.key;
  }

  private pipeline(k: KernelSource): GPUComputePipeline {
    const key = Engine.pipelineKey(k);
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(k.key);
      if (!module) {
        module = this.device.createShaderModule({ code: k.code, label: k.key });
        this.modules.set(k.key, module);
        this.layouts.set(k.key, this.device.createBindGroupLayout({ entries: layoutOf(k.code) }));
      }
      const layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.layouts.get(k.key)!] });
      p = this.device.createComputePipeline({ layout, compute: { module, entryPoint: 'main', constants: k.constants }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  private uniformBuffer(values: Uniform[]): GPUBuffer {
    const bytes = Math.max(16, Math.ceil((values.length * 4) / 16) * 16);
    const buf = this.device.createBuffer({ size: bytes, usage: UNIFORM, mappedAtCreation: true });
    const range = buf.getMappedRange();
    const u = new Uint32Array(range);
    const i = new Int32Array(range);
    const f = new Float32Array(range);
    values.forEach((v, k) => {
      if ('u' in v) u[k] = v.u;
      else if ('i' in v) i[k] = v.i;
      else f[k] = v.f;
    });
    buf.unmap();
    this.pendingUniforms.push(buf);
    return buf;
  }

  /**
   * Records one dispatch: `uniforms` at binding 0 (when any), then `buffers` at bindings 1.. (or 0.. without
   * uniforms), `groups` workgroups per dimension (each <= 65535).
   */
  dispatch(k: KernelSource, buffers: GPUBuffer[], uniforms: Uniform[], groups: [number, number?, number?]): void {
    const [gx, gy = 1, gz = 1] = groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    if (gx > MAX_GROUPS || gy > MAX_GROUPS || gz > MAX_GROUPS) throw new Error(`webgpu: ${k.key} dispatch ${groups} too large`);
    const pipe = this.pipeline(k);
    const entries: GPUBindGroupEntry[] = [];
    let b = 0;
    if (uniforms.length) entries.push({ binding: b++, resource: { buffer: this.uniformBuffer(uniforms) } });
    for (const buf of buffers) entries.push({ binding: b++, resource: { buffer: buf } });
    const group = this.device.createBindGroup({ layout: this.layouts.get(k.key)!, entries });
    const pass = this.computePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, gy, gz);
    if (++this.dispatches >= 512) this.flush();
  }

  /** Copies `bytes` bytes between storage buffers (recorded in order with the dispatches). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes > 0) this.endPass().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Writes host data into a buffer, ordered after everything recorded so far. */
  write(dst: GPUBuffer, data: ArrayBufferView, dstOffset = 0): void {
    this.flush();
    this.device.queue.writeBuffer(dst, dstOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits the recorded work. */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.endPass();
    this.device.queue.submit([enc.finish()]);
    this.encoder = null;
    for (const u of this.pendingUniforms) u.destroy();
    this.pendingUniforms = [];
    this.dispatches = 0;
  }

  /** Reads `bytes` bytes of `src` back to the host (submits pending work first). */
  async read(src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, size), usage: MAP_READ | COPY_DST });
    if (size > 0) this.endPass().copyBufferToBuffer(src, offset, staging, 0, size);
    this.flush();
    await staging.mapAsync(MAP_MODE_READ);
    const out = staging.getMappedRange(0, size).slice(0);
    staging.unmap();
    staging.destroy();
    this.check();
    return out;
  }

  /** Waits until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Frees everything and destroys the device. */
  dispose(): void {
    this.flush();
    this.trim();
    this.device.destroy();
  }
}

/** Workgroup counts for a 1D grid-stride kernel over `n` items: `[gx, gy]` with gx*gy*WG >= n where possible. */
export function grid1d(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / WG));
  if (groups <= MAX_GROUPS) return [groups, 1];
  const gy = Math.min(MAX_GROUPS, Math.ceil(groups / MAX_GROUPS));
  return [MAX_GROUPS, gy];
}

/** WGSL prologue of a grid-stride 1D kernel: `for (var i = start; i < n; i += stride)` over a [gx, gy] grid. */
export const GRID_STRIDE = /* wgsl */ `
  let nthreads = ${WG}u * nwg.x * nwg.y;
  let start = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;`;

/** WGSL builtins parameter list matching `GRID_STRIDE`. */
export const GRID_PARAMS = '@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>';
