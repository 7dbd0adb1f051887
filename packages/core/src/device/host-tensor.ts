import type { DeviceDType, DeviceMemory, DeviceTensor } from '../contracts/device.js';

/** A host-memory tensor of a `HostDeviceBackend`: `data` is float32 (float dtypes) or int32 (labels). */
export class HostTensor implements DeviceTensor {
  readonly shape: readonly number[];
  readonly size: number;
  private disposed = false;

  constructor(
    readonly backend: string,
    shape: readonly number[],
    readonly dtype: DeviceDType,
    public data: Float32Array | Int32Array,
  ) {
    this.shape = Object.freeze([...shape]);
    this.size = data.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the storage (the array is dropped); returns the bytes released, 0 when already disposed. */
  release(): number {
    if (this.disposed) return 0;
    this.disposed = true;
    const b = this.data.byteLength;
    this.data = new Float32Array(0);
    return b;
  }
}

/**
 * Live-tensor bookkeeping and nested scopes of a host backend: every created tensor enters the innermost scope;
 * `end(keep)` disposes the scope's tensors except `keep`, which move to the enclosing scope.
 */
export class TensorTracker {
  private live = 0;
  private bytes = 0;
  private readonly scopes: Set<HostTensor>[] = [];

  track(t: HostTensor): HostTensor {
    this.live++;
    this.bytes += t.data.byteLength;
    this.scopes[this.scopes.length - 1]?.add(t);
    return t;
  }

  dispose(t: HostTensor): void {
    if (t.isDisposed) return;
    this.bytes -= t.release();
    this.live--;
  }

  begin(): void {
    this.scopes.push(new Set());
  }

  end(keep: readonly (DeviceTensor | null | undefined)[]): void {
    const scope = this.scopes.pop();
    if (!scope) throw new Error('endScope without a matching beginScope');
    const kept = new Set(keep);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of scope) {
      if (kept.has(t)) parent?.add(t);
      else if (!t.isDisposed) this.dispose(t);
    }
  }

  memory(): DeviceMemory {
    return { tensors: this.live, bytes: this.bytes };
  }
}
