import type { ComputeBackend } from '../contracts/backend.js';
import { referenceConv3d, referenceConv3dBackwardData, referenceConv3dBackwardFilter } from '../compute/reference.js';

/**
 * A naive, obviously correct `ComputeBackend` (plain loops, float64 accumulation; the kernels of
 * `compute/reference.ts`). Slow; meant for tests and as the ground truth the fast backends are compared against.
 * Shapes as in `contracts/backend.ts` (NCDHW, OIDHW). Throws `Error` on inconsistent shapes.
 */
export function referenceBackend(): ComputeBackend {
  return {
    info: { name: 'reference', description: 'naive JS reference loops (tests only)', gpu: false, threads: 1 },
    conv3d: referenceConv3d,
    conv3dBackwardData: referenceConv3dBackwardData,
    conv3dBackwardFilter: referenceConv3dBackwardFilter,
  };
}
