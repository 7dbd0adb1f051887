import type { WebBackendName } from '../engine/backends.js';

/** Messages from the page to its inference worker. */
export type ToWorker =
  | { type: 'load'; modelUrl: string; wasmPrefix: string; backend: WebBackendName | 'auto'; allowSoftwareGpu: boolean }
  | { type: 'run'; id: number; files: { name: string; bytes: ArrayBuffer }[]; mirror: boolean; itkPrefix: string };

/** What the model is, for the page's header. */
export interface ModelSummary {
  name: string;
  configuration: string;
  /** A cascade stage's previous stage (`3d_lowres`), run first. */
  previousStage?: string;
  channels: string[];
  labels: Record<string, number | number[]>;
  folds: (number | 'all')[];
  maxVoxels: number;
}

/** Messages from the worker to the page. */
export type FromWorker =
  | { type: 'ready'; backend: WebBackendName; description: string; loadMs: number; model: ModelSummary }
  | { type: 'progress'; id: number; stage: 'read' | 'preprocess' | 'predict' | 'export' | 'write'; done: number; total: number; configuration?: string }
  | { type: 'done'; id: number; seg: ArrayBuffer; fileName: string; ms: number; counts: Record<string, number> }
  | { type: 'error'; id?: number; message: string };
