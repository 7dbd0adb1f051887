/** The `webgpu` backend's tensor handle and its scope bookkeeping. */
import type { DeviceDType, DeviceTensor } from '@nnunet-ts/core';

/** A GPU buffer with shape and dtype; the buffer may be larger than `size` elements (pooled). */
export class GpuTensor implements DeviceTensor {
  readonly backend = 'webgpu';
  readonly size: number;
  private disposed = false;
  constructor(
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DeviceDType,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** Marks disposed; returns false when it already was. */
  markDisposed(): boolean {
    if (this.disposed) return false;
    this.disposed = true;
    return true;
  }
}
