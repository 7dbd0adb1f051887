/**
 * The page's inference worker: loads the exported model on the chosen backend once, then segments each case it is
 * sent, posting progress. Runs off the page's main thread, so the page stays responsive and a cancel is
 * `worker.terminate()`.
 */
import {
  caseFromImages,
  encodeSegmentationAs,
  loadWebModel,
  orderChannelFiles,
  readImageFiles,
  readManifest,
  segmentCase,
  selectWebBackend,
  type WebModel,
} from '../engine/index.js';
import type { FromWorker, ToWorker } from './protocol.js';

const post = (m: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);

/** `error: <message>` text for the page: the error's message plus its hint, never a stack trace. */
function messageOf(e: unknown): string {
  const err = e as { message?: string; hint?: string };
  const msg = err?.message ?? String(e);
  return err?.hint && !msg.includes(err.hint) ? `${msg} (${err.hint})` : msg;
}

let model: WebModel | undefined;

async function load(m: Extract<ToWorker, { type: 'load' }>): Promise<void> {
  const t0 = performance.now();
  const base = new URL(m.modelUrl, self.location.href);
  const fetchFile = async (f: string): Promise<Uint8Array> => {
    const r = await fetch(new URL(f, base));
    if (!r.ok) throw new Error(`cannot load model/${f} (HTTP ${r.status})`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const manifest = await readManifest(fetchFile);
  const backend = await selectWebBackend(m.backend, { wasmPrefix: new URL(m.wasmPrefix, self.location.href).href, allowSoftwareGpu: m.allowSoftwareGpu });
  model = await loadWebModel(manifest, fetchFile, backend.compute);
  post({
    type: 'ready',
    backend: backend.name,
    description: backend.description,
    loadMs: performance.now() - t0,
    model: {
      name: manifest.name,
      configuration: manifest.configuration,
      previousStage: manifest.previousStage?.configuration,
      channels: Object.values(manifest.dataset.channel_names),
      labels: manifest.dataset.labels,
      folds: manifest.weights.map((w) => w.fold),
      maxVoxels: manifest.maxVoxels,
    },
  });
}

async function run(m: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  if (!model) throw new Error('the model is not loaded yet');
  const t0 = performance.now();
  const { manifest } = model;
  const channelNames = Object.values(manifest.dataset.channel_names); // image channels (a cascade's one-hot ones come from its previous stage)
  const maxBytes = manifest.maxVoxels * 8 * channelNames.length + 65536; // float64 voxels of every channel plus a header
  post({ type: 'progress', id: m.id, stage: 'read', done: 0, total: m.files.length });
  const itkPipelinesUrl = new URL(m.itkPrefix, self.location.href).href;
  const files = m.files.map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) }));
  const read = await readImageFiles(files, { maxBytes, maxVoxels: manifest.maxVoxels, itkPipelinesUrl });
  const picked = orderChannelFiles(read.map((p) => ({ ...p, name: p.file.name }))); // CASE_0000, CASE_0001, ...
  const image = caseFromImages(picked.map((p) => p.image), { inputChannels: channelNames.length, channelNames, maxVoxels: manifest.maxVoxels });
  const seg = await segmentCase(model, image, {
    mirror: m.mirror,
    onProgress: (stage, done, total, configuration) => post({ type: 'progress', id: m.id, stage, done, total, configuration }),
  });
  post({ type: 'progress', id: m.id, stage: 'write', done: 0, total: 1 });
  const counts: Record<string, number> = {};
  for (let i = 0; i < seg.length; i++) counts[seg[i]!] = (counts[seg[i]!] ?? 0) + 1;
  const first = picked[0]!;
  const out = first.format === 'nifti' ? { format: 'nifti' as const, gz: /\.gz$/i.test(first.name) } : { format: first.format, itkPipelinesUrl };
  const { bytes, ending } = await encodeSegmentationAs(seg, image, out);
  const caseId = first.name.replace(/(_\d{4})?\.(nii(\.gz)?|nrrd|nhdr|mha|mhd)$/i, '');
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  post({ type: 'done', id: m.id, seg: buf, fileName: `${caseId}_seg${ending}`, ms: performance.now() - t0, counts }, [buf]);
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  const job = m.type === 'load' ? load(m) : run(m);
  job.catch((e: unknown) => post({ type: 'error', id: m.type === 'run' ? m.id : undefined, message: messageOf(e) }));
};
