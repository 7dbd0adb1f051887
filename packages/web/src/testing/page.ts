/**
 * Drives an exported site in headless Chromium (Playwright's core library + the system's chromium; Debian:
 * `apt-get install chromium`): serve the folder on 127.0.0.1, open the page with a backend, pick files, run, read
 * the status, the backend, the timings and the downloaded segmentation. Used by the browser tests and `npm run bench`.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.wasm': 'application/wasm', '.map': 'application/json',
};

/** A plain static file server for `dir` on 127.0.0.1 (what any static host does: files and MIME types, nothing else). */
export async function serveStatic(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const root = resolve(dir);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(root, path));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** Debian's / Ubuntu's chromium binary, or undefined. */
export function chromiumPath(): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
}

/** Headless chromium with WebGPU and WebGL on SwiftShader (software) where no GPU exists. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed (apt-get install chromium); .ci/run installs it');
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'],
  });
}

/** What one run in the page gave. */
export interface PageRun {
  /** The status text at the end: `done`, or `error: <message>`. */
  status: string;
  /** `data-name` of the backend field (`webgpu`, `webgl`, `wasm`) and its text. */
  backend: string;
  backendText: string;
  /** The downloaded segmentation file (when done) and its name. */
  seg?: Uint8Array;
  fileName?: string;
  /** Milliseconds: model load, and this case (reading to encoded result, in the worker). */
  loadMs: number;
  caseMs?: number;
}

/** Opens the site with `backend` (`auto`, `webgpu`, `webgl`, `wasm`) and waits until the model is loaded (or failed). */
export async function openSite(browser: Browser, url: string, backend: string, opts: { softwareGpu?: boolean; timeoutMs?: number } = {}): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${url}?backend=${backend}${opts.softwareGpu ? '&software-gpu=1' : ''}`);
  await page.waitForFunction(() => /^(ready|error:)/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''), undefined, { timeout: opts.timeoutMs ?? 300_000 });
  return page;
}

/** Picks `files` (paths), sets the TTA switch, clicks run and waits for `done` or `error:`. */
export async function runCase(page: Page, files: string[], opts: { mirror?: boolean; timeoutMs?: number } = {}): Promise<PageRun> {
  await page.getByTestId('image-input').setInputFiles(files);
  await page.getByTestId('tta').setChecked(opts.mirror ?? true);
  await page.waitForFunction(() => !(document.querySelector('[data-testid=run]') as HTMLButtonElement).disabled, undefined, { timeout: 30_000 });
  const before = await page.evaluate(() => (window as unknown as { nnunetTimings: { caseMs: number[] } }).nnunetTimings.caseMs.length);
  await page.getByTestId('run').click();
  await page.waitForFunction(() => /^(done|error:)/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''), undefined, { timeout: opts.timeoutMs ?? 600_000 });
  const r = await page.evaluate(async (n) => {
    const q = (id: string) => document.querySelector(`[data-testid=${id}]`) as HTMLElement;
    const t = (window as unknown as { nnunetTimings: { loadMs: number; caseMs: number[] } }).nnunetTimings;
    const a = q('download') as HTMLAnchorElement;
    const status = q('status').textContent ?? '';
    const seg = status === 'done' ? Array.from(new Uint8Array(await (await fetch(a.href)).arrayBuffer())) : undefined;
    return { status, backend: q('backend').dataset.name ?? '', backendText: q('backend').textContent ?? '', seg, fileName: a.download, loadMs: t.loadMs, caseMs: t.caseMs[n] };
  }, before);
  return { ...r, seg: r.seg ? Uint8Array.from(r.seg) : undefined };
}
