/**
 * The same backend source in headless chromium (`navigator.gpu` over SwiftShader, via playwright-core) and in
 * Node (Dawn): a probe of conv / instance norm / loss / backward ops must give the same numbers in both.
 * Needs chromium (`apt-get install chromium`; `.ci/run` installs it).
 */
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { rolldown } from 'rolldown';
import { chromium, type Browser } from 'playwright-core';
import { runProbe } from './testing/probe.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

async function bundle(): Promise<string> {
  const b = await rolldown({
    input: here('./testing/browser-entry.ts'),
    platform: 'browser',
    resolve: { alias: { '#dawn': here('./gpu/no-dawn.ts') } },
    logLevel: 'silent',
  });
  const { output } = await b.generate({ format: 'esm' });
  await b.close();
  const code = output[0].code;
  if (/from ['"]node:|require\(['"]node:/.test(code)) throw new Error('browser bundle imports a Node built-in');
  return code;
}

let server: Server | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('webgpu in headless chromium (navigator.gpu) matches Dawn in Node', () => {
  it('runs the probe in both and compares', async () => {
    if (!chromiumPath) throw new Error('chromium is not installed (apt-get install chromium); .ci/run installs it');
    const code = await bundle();
    const html = `<!doctype html><script type="module">import { runProbe } from '/probe.js'; window.probe = runProbe;</script>`;
    server = createServer((req, res) => {
      const js = req.url === '/probe.js';
      res.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' }).end(js ? code : html);
    });
    await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof (window as unknown as { probe?: unknown }).probe === 'function');
    const web = await page.evaluate(() => (window as unknown as { probe: typeof runProbe }).probe());
    expect(web.via).toBe('navigator.gpu');
    const node = await runProbe();
    expect(node.via).toBe('dawn (npm webgpu)');
    for (const k of Object.keys(node.out)) {
      const a = web.out[k]!;
      const b = node.out[k]!;
      expect(a.length, k).toBe(b.length);
      const scale = Math.max(...b.map(Math.abs));
      const err = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      expect(err / scale, k).toBeLessThan(1e-5);
    }
    expect(node.out['loss']![0]).toBeGreaterThan(0);
  });
});
