/**
 * The page: pick or drop an image, run the exported model in a worker (progress, cancel), show the result over the
 * image (niivue) and offer it for download. Every part the tests drive has a `data-testid`; failures show as
 * `error: <message>` in the status, never as a blank page.
 */
import type { FromWorker, ModelSummary, ToWorker } from './protocol.js';
import { Viewer } from './viewer.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  files: $<HTMLInputElement>('files'),
  drop: $<HTMLLabelElement>('drop'),
  tta: $<HTMLInputElement>('tta'),
  backendSelect: $<HTMLSelectElement>('backend-select'),
  run: $<HTMLButtonElement>('run'),
  cancel: $<HTMLButtonElement>('cancel'),
  progress: $<HTMLProgressElement>('progress'),
  backend: $<HTMLElement>('backend'),
  status: $<HTMLElement>('status'),
  download: $<HTMLAnchorElement>('download'),
  counts: $<HTMLElement>('counts'),
  model: $<HTMLElement>('model'),
};
const params = new URLSearchParams(location.search);
const viewer = new Viewer($<HTMLCanvasElement>('viewer'));

/** Timings the benchmark reads (`window.nnunetTimings`): model load and each case, milliseconds. */
const timings = { loadMs: NaN, caseMs: [] as number[], backend: '' };
(window as unknown as { nnunetTimings: typeof timings }).nnunetTimings = timings;

let worker: Worker | undefined;
let model: ModelSummary | undefined;
let picked: File[] = [];
let runId = 0;
let busy = false;

const setStatus = (s: string): void => void (ui.status.textContent = s);
const refresh = (): void => {
  ui.run.disabled = busy || !model || !picked.length;
  ui.cancel.disabled = !busy;
};

function startWorker(): void {
  worker?.terminate();
  model = undefined;
  refresh();
  setStatus('loading the model');
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  w.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  w.onerror = (ev) => fail(ev.message || 'the worker failed to start');
  const backend = ui.backendSelect.value as Extract<ToWorker, { type: 'load' }>['backend'];
  const msg: ToWorker = { type: 'load', modelUrl: './model/', wasmPrefix: './tfjs/', backend, allowSoftwareGpu: params.get('software-gpu') === '1' };
  w.postMessage(msg);
  worker = w;
}

function fail(message: string): void {
  busy = false;
  ui.progress.value = 0;
  setStatus(`error: ${message}`);
  refresh();
}

function onMessage(m: FromWorker): void {
  if (m.type === 'ready') {
    model = m.model;
    timings.loadMs = m.loadMs;
    timings.backend = m.backend;
    ui.backend.textContent = `${m.backend} (${m.description})`;
    ui.backend.dataset.name = m.backend;
    const labels = Object.entries(m.model.labels).filter(([, v]) => v !== 0).map(([k]) => k);
    const stages = m.model.previousStage ? `${m.model.configuration} after ${m.model.previousStage} (cascade)` : m.model.configuration;
    ui.model.textContent = `${m.model.name}: ${stages}, channels ${m.model.channels.join(', ')}, labels ${labels.join(', ')}, folds ${m.model.folds.join(', ')} (model loaded in ${(m.loadMs / 1000).toFixed(1)} s)`;
    setStatus('ready');
  } else if (m.type === 'progress' && m.id === runId) {
    let frac = m.stage === 'predict' && m.total ? 0.1 + (0.8 * m.done) / m.total : { read: 0, preprocess: 0.05, predict: 0.1, export: 0.9, write: 0.95 }[m.stage];
    // a cascade: the previous stage fills the first half of the bar, the cascade stage the second
    if (model?.previousStage && m.stage !== 'read' && m.stage !== 'write') frac = m.configuration === model.previousStage ? frac / 2 : 0.5 + frac / 2;
    ui.progress.value = frac;
    const which = model?.previousStage && m.configuration ? `${m.configuration} ` : '';
    setStatus(m.stage === 'predict' ? `running: ${which}sliding window ${m.done}/${m.total} tiles` : `running: ${which}${m.stage}`);
  } else if (m.type === 'done' && m.id === runId) {
    void finish(m);
  } else if (m.type === 'error' && (m.id === undefined || m.id === runId)) {
    fail(m.message);
  }
  refresh();
}

async function finish(m: Extract<FromWorker, { type: 'done' }>): Promise<void> {
  timings.caseMs.push(m.ms);
  const blob = new Blob([m.seg], { type: 'application/octet-stream' });
  if (ui.download.href) URL.revokeObjectURL(ui.download.href);
  ui.download.href = URL.createObjectURL(blob);
  ui.download.download = m.fileName;
  ui.download.hidden = false;
  const names = Object.fromEntries(Object.entries(model?.labels ?? {}).map(([k, v]) => [String(v), k]));
  ui.counts.textContent = Object.entries(m.counts).filter(([k]) => k !== '0').map(([k, n]) => `${names[k] ?? k}: ${n} voxels`).join(', ');
  try {
    await viewer.showSegmentation(m.seg.slice(0), m.fileName, Math.max(...Object.keys(m.counts).map(Number), 1));
  } catch (e) {
    console.warn('viewer', e);
  }
  busy = false;
  ui.progress.value = 1;
  setStatus('done');
  ui.status.title = `${(m.ms / 1000).toFixed(1)} s`;
  refresh();
}

async function pick(files: File[]): Promise<void> {
  picked = files;
  ui.download.hidden = true;
  ui.counts.textContent = '';
  setStatus(model ? 'ready' : ui.status.textContent ?? '');
  refresh();
  // the first image by name (channel 0), with its data file when it is a detached header (.mhd + .raw)
  const first = [...files].filter((f) => !/\.(z?raw|raw\.gz)$/i.test(f.name)).sort((a, b) => a.name.localeCompare(b.name))[0];
  if (!first) return;
  const header = /\.(mhd|nhdr)$/i.test(first.name) ? new TextDecoder().decode(await first.slice(0, 65536).arrayBuffer()) : '';
  const dataName = /^\s*(?:ElementDataFile\s*=|data ?file:)\s*(.*?)\s*$/m.exec(header)?.[1];
  const data = files.find((f) => f.name === dataName);
  await viewer.showImage(await first.arrayBuffer(), first.name, await data?.arrayBuffer()).catch(() => undefined);
}

async function run(): Promise<void> {
  if (!worker || !model || !picked.length) return;
  busy = true;
  runId++;
  ui.download.hidden = true;
  setStatus('running: reading');
  refresh();
  const files = await Promise.all(picked.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })));
  const msg: ToWorker = { type: 'run', id: runId, files, mirror: ui.tta.checked, itkPrefix: './itk/' };
  worker.postMessage(msg, files.map((f) => f.bytes));
}

function cancel(): void {
  if (!busy) return;
  busy = false;
  runId++;
  startWorker(); // the only way to stop synchronous kernels mid-tile: drop the worker, load the model again
  setStatus('cancelled');
}

ui.files.addEventListener('change', () => void pick([...(ui.files.files ?? [])]));
ui.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
});
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  void pick([...(e.dataTransfer?.files ?? [])]);
});
ui.run.addEventListener('click', () => void run().catch((e: unknown) => fail((e as Error).message)));
ui.cancel.addEventListener('click', cancel);
ui.backendSelect.addEventListener('change', startWorker);
ui.backendSelect.value = ['webgpu', 'webgl', 'wasm'].includes(params.get('backend') ?? '') ? params.get('backend')! : 'auto';
window.addEventListener('error', (e) => fail(e.message));
window.addEventListener('unhandledrejection', (e) => fail(String((e.reason as Error)?.message ?? e.reason)));
startWorker();
