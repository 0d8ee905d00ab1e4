import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  encodeGrayPng,
  gql,
  jobUiLog,
  launchBrowser,
  launchPlatform,
  openPage,
  pngSize,
  recordJobUi,
  resetJobUi,
  sleep,
  until,
  type Platform,
  type WatchedPage,
} from './harness';

// The playground at /, opened from the link `npm start` prints, in chromium: the form with the model's defaults, a
// generate job followed to its images, a cancelled job, a super-resolution of an uploaded image, a job reproduced
// from History to the same bytes, and the layout on a phone and a desktop. One platform for the file; the tests
// share one page (History is the page's), in order.
let platform: Platform;
let browser: Browser;
let shared: WatchedPage | undefined;

interface Defaults {
  count: number;
  points: number;
  latentTemperature: number;
  scale: number;
  sampler: { kind: string; steps: number; eta: number | null; temperature: number; timestepSpacing: string; varianceType: string; clipSample: boolean };
}

/** What (b) saw, for (e). */
let generated: { jobId: string; refined: string[]; stage1: string[] } | undefined;

beforeAll(async () => {
  platform = await launchPlatform();
  browser = await launchBrowser();
});

afterAll(async () => {
  await shared?.close();
  await browser?.close();
  await platform?.stop();
});

const DATA_PNG = 'data:image/png;base64,';
const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** The page of tests a–e, opened from the printed link once. */
async function page(): Promise<Page> {
  if (!shared) {
    shared = await openPage(browser, platform);
    await shared.page.goto(platform.playgroundUrl);
    await shared.page
      .getByRole('radiogroup', { name: 'Job kind' })
      .waitFor({ timeout: 60_000 })
      .catch(async (e: unknown) => {
        const body = ((await shared!.page.locator('body').textContent().catch(() => '')) ?? '').slice(0, 500);
        throw new Error(`${(e as Error).message}\npage errors: ${JSON.stringify(shared!.errors)}\npage text: ${body}`);
      });
    await recordJobUi(shared.page);
  }
  return shared.page;
}

/** Where the shared page's records stand (a test checks its own part of them: one error fails one test). */
const mark = () => ({ requests: shared?.requests.length ?? 0, errors: shared?.errors.length ?? 0 });

/** Nothing left the machine, nothing was logged as an error, since `from`. */
function expectClean(w: WatchedPage | undefined, from = { requests: 0, errors: 0 }) {
  expect(w, 'the page was opened').toBeDefined();
  const offMachine = new Set(w!.offMachine());
  expect(w!.requests.slice(from.requests).filter((u) => offMachine.has(u))).toEqual([]);
  expect(w!.errors.slice(from.errors)).toEqual([]);
}

const field = (p: Page, label: string) => p.getByLabel(label, { exact: true });

async function alertText(p: Page): Promise<string> {
  const alerts = await p.getByRole('alert').allTextContents();
  return alerts.join(' | ');
}

/**
 * Waits for the current job of the page to reach `want`, after the click that started it (the log was reset before
 * it): the page showed QUEUED or RUNNING on the way, so the status read is the new job's, not the last one's.
 */
async function waitForStatus(p: Page, want: string, timeoutMs = 120_000): Promise<string[]> {
  return until(
    `job-status ${want}`,
    async () => {
      const log = await jobUiLog(p);
      const now = log.statuses.at(-1);
      const started = log.statuses.some((s) => s === 'QUEUED' || s === 'RUNNING');
      if (started && now && TERMINAL.includes(now) && now !== want) {
        throw new Error(`job-status ${now} (statuses ${log.statuses.join(' → ')}; alert: ${await alertText(p)})`);
      }
      if (!started) {
        const alert = await alertText(p);
        if (alert) throw new Error(`no job started: alert ${alert}`);
      }
      return started && now === want ? log.statuses : undefined;
    },
    timeoutMs,
    100,
  ).catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}; statuses seen: ${(await jobUiLog(p)).statuses.join(' → ')}`);
  });
}

async function imageSrcs(p: Page, prefix: string): Promise<string[]> {
  const srcs: string[] = [];
  for (let i = 1; ; i++) {
    const img = p.getByRole('img', { name: `${prefix} ${i}`, exact: true });
    if ((await img.count()) === 0) return srcs;
    srcs.push((await img.getAttribute('src')) ?? '');
  }
}

async function expectPngs(srcs: string[], count: number) {
  expect(srcs).toHaveLength(count);
  for (const src of srcs) {
    expect(src.startsWith(DATA_PNG), `${src.slice(0, 40)}… is a data:image/png;base64 URL`).toBe(true);
    expect(pngSize(src)).toEqual({ width: 28, height: 28 });
  }
}

interface ApiJob {
  id: string;
  kind: string;
  status: string;
  errorCode: string | null;
  images: { png: string }[];
  stage1: { png: string }[] | null;
}

async function apiJob(id: string): Promise<ApiJob> {
  const { job } = await gql<{ job: ApiJob | null }>(platform, `query($id: ID!) { job(id: $id) { id kind status errorCode images { png } stage1 { png } } }`, { id });
  if (!job) throw new Error(`no job ${id} at the API`);
  return job;
}

/** Clicks (Run, Reproduce) and returns the id of the job the page's mutation started (the API's answer to it). */
async function startJob(p: Page, click: () => Promise<void>): Promise<string> {
  const answered = p.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/graphql' && /^\s*mutation\b(?![^{]*Cancel)/.test(JSON.parse(r.request().postData() ?? '{}').query ?? ''),
    { timeout: 30_000 },
  );
  await click();
  const body = (await (await answered).json()) as { data?: Record<string, { id?: string } | null>; errors?: unknown };
  const job = Object.values(body.data ?? {})[0];
  if (!job?.id) throw new Error(`the page's mutation was answered ${JSON.stringify(body).slice(0, 500)}`);
  return job.id;
}

describe('playground', () => {
  it('a. loads from the printed link from this machine only, takes the key out of the address bar, and shows the model defaults', async () => {
    const { models } = await gql<{ models: { name: string; defaults: Defaults }[] }>(
      platform,
      '{ models { name defaults { count points latentTemperature scale sampler { kind steps eta temperature timestepSpacing varianceType clipSample } } } }',
    );
    const d = models[0]!.defaults;
    const p = await page();

    // the key: out of the address bar, in the (password) field, and kept for the next visit
    expect(p.url()).toBe(`${platform.origin}/`);
    expect(p.url()).not.toContain(platform.key);
    const keyField = field(p, 'API key');
    expect(await keyField.getAttribute('type')).toBe('password');
    await expect.poll(() => keyField.inputValue()).toBe(platform.key);
    expect(await p.evaluate<string[]>('Object.values(localStorage)')).toContain(platform.key);

    // the job kinds
    const kinds = p.getByRole('radiogroup', { name: 'Job kind' });
    for (const name of ['Generate', 'Reconstruct', 'Super-resolution', 'Denoise', 'Interpolate']) {
      await expect.poll(() => kinds.getByRole('radio', { name, exact: true }).count(), { message: `radio ${name}` }).toBe(1);
    }
    expect(await kinds.getByRole('radio', { name: 'Generate', exact: true }).isChecked()).toBe(true);

    // the form, as models { defaults } has it
    expect(await field(p, 'Count').inputValue()).toBe(String(d.count));
    expect(await field(p, 'Steps').inputValue()).toBe(String(d.sampler.steps));
    expect(await field(p, 'Sampler').inputValue()).toBe(d.sampler.kind);
    expect(Number(await field(p, 'Temperature').inputValue())).toBe(d.sampler.temperature);
    expect(await field(p, 'Timestep spacing').inputValue()).toBe(d.sampler.timestepSpacing);
    if (d.sampler.kind === 'DDIM' && d.sampler.eta !== null) expect(Number(await field(p, 'Eta').inputValue())).toBe(d.sampler.eta);
    expect(await p.getByRole('button', { name: 'Run', exact: true }).isEnabled()).toBe(true);

    // a second visit (no fragment) still has the key; no alert
    await p.reload();
    await p.getByRole('radiogroup', { name: 'Job kind' }).waitFor();
    await recordJobUi(p);
    await expect.poll(() => field(p, 'API key').inputValue()).toBe(platform.key);
    await p.getByRole('list', { name: 'History' }).waitFor({ state: 'attached' }).catch(() => {});
    await sleep(300);
    expect(await alertText(p), 'no alert on a fresh load').toBe('');
    expectClean(shared);
  });

  it('b. generates 4 images with seed 7 in 20 steps: progress on the way, then 4 refined and 4 stage-1 28×28 PNGs and a download link', async () => {
    const p = await page();
    const from = mark();
    await p.getByRole('radio', { name: 'Generate', exact: true }).check();
    await field(p, 'Count').fill('4');
    await field(p, 'Seed').fill('7');
    await field(p, 'Steps').fill('20');
    await resetJobUi(p);
    const id = await startJob(p, () => p.getByRole('button', { name: 'Run', exact: true }).click());

    // progress before the end: polled (and every change recorded in the page, so a short job is not missed)
    const bar = p.getByRole('progressbar', { name: 'Progress' });
    let midway: [number, number] | undefined;
    const end = Date.now() + 120_000;
    while (!midway && Date.now() < end) {
      const now = Number(await bar.getAttribute('aria-valuenow', { timeout: 1000 }).catch(() => null));
      const max = Number(await bar.getAttribute('aria-valuemax', { timeout: 1000 }).catch(() => null));
      if (now > 0 && now < max) midway = [now, max];
      else midway = (await jobUiLog(p)).progress.find(([n, m]) => n > 0 && n < m);
      const status = (await jobUiLog(p)).statuses.at(-1);
      if (!midway && status && TERMINAL.includes(status) && (await jobUiLog(p)).statuses.includes('RUNNING')) break;
      await sleep(50);
    }
    expect(midway, `a progress step between 0 and the steps; recorded ${JSON.stringify((await jobUiLog(p)).progress)}`).toBeDefined();
    expect(midway![1]).toBe(20);

    await waitForStatus(p, 'SUCCEEDED');
    expect((await p.getByTestId('job-status').textContent())?.trim()).toBe('SUCCEEDED');
    const refined = await imageSrcs(p, 'Refined image');
    const stage1 = await imageSrcs(p, 'Stage-1 image');
    await expectPngs(refined, 4);
    await expectPngs(stage1, 4);
    const download = p.getByRole('link', { name: 'Download image 1', exact: true });
    expect(await download.count()).toBe(1);
    expect(await download.getAttribute('download')).not.toBeNull();

    // the API's PNG bytes, unchanged
    const job = await apiJob(id);
    expect(job).toMatchObject({ kind: 'GENERATE', status: 'SUCCEEDED' });
    expect(refined).toEqual(job.images.map((i) => DATA_PNG + i.png));
    expect(stage1).toEqual(job.stage1!.map((i) => DATA_PNG + i.png));
    generated = { jobId: id, refined, stage1 };
    expectClean(shared, from);
  });

  it('c. cancels a long job once it runs', async () => {
    const p = await page();
    const from = mark();
    await p.getByRole('radio', { name: 'Generate', exact: true }).check();
    await field(p, 'Count').fill('16');
    await field(p, 'Seed').fill('11');
    await field(p, 'Steps').fill('400'); // 6,400 image-steps: under the gateway's MAX_IMAGE_STEPS (16,384)
    await resetJobUi(p);
    const id = await startJob(p, () => p.getByRole('button', { name: 'Run', exact: true }).click());

    await waitForStatus(p, 'RUNNING', 60_000);
    // the x̂₀ preview while it runs
    const preview = p.getByRole('img', { name: 'Preview', exact: true });
    await preview.waitFor({ timeout: 30_000 });
    expect((await preview.getAttribute('src'))?.startsWith(DATA_PNG)).toBe(true);
    const cancel = p.getByRole('button', { name: 'Cancel', exact: true });
    await expect.poll(() => cancel.isEnabled()).toBe(true);
    await cancel.click();
    await waitForStatus(p, 'CANCELLED', 60_000);
    await expect.poll(() => cancel.isEnabled()).toBe(false);

    expect(await apiJob(id)).toMatchObject({ kind: 'GENERATE', status: 'CANCELLED', errorCode: 'CANCELLED' });
    expectClean(shared, from);
  });

  it('d. super-resolves an uploaded 20×20 PNG ×4: resized in the page (said so), then 28×28 images', async () => {
    const p = await page();
    const from = mark();
    await p.getByRole('radio', { name: 'Super-resolution', exact: true }).check();
    await field(p, 'Scale').selectOption({ label: '×4' });
    expect(await field(p, 'Scale').inputValue()).toBe('4');
    // a bright ring on black: at 7×7 (what ×4 takes) it is used as it is; at 20×20 the page resizes it and says so
    const ring = (size: number) => encodeGrayPng(size, size, (x, y) => (Math.abs(Math.hypot(x - (size - 1) / 2, y - (size - 1) / 2) - size * 0.3) < size * 0.1 + 0.5 ? 230 : 10));
    const note = p.getByTestId('resize-note');
    await field(p, 'Image').setInputFiles({ name: 'ring7.png', mimeType: 'image/png', buffer: ring(7) });
    await sleep(500);
    expect(await note.count(), 'no resize note for a 7×7 image at ×4').toBe(0);
    await field(p, 'Image').setInputFiles({ name: 'ring20.png', mimeType: 'image/png', buffer: ring(20) });
    await note.waitFor({ timeout: 10_000 });
    expect((await note.textContent())?.trim()).not.toBe('');

    await field(p, 'Count').fill('2');
    await field(p, 'Seed').fill('3');
    await field(p, 'Steps').fill('10');
    await resetJobUi(p);
    const id = await startJob(p, () => p.getByRole('button', { name: 'Run', exact: true }).click());
    await waitForStatus(p, 'SUCCEEDED');
    await expectPngs(await imageSrcs(p, 'Refined image'), 2);

    const job = await apiJob(id);
    expect(job).toMatchObject({ kind: 'SUPER_RESOLVE', status: 'SUCCEEDED' });
    expect(await imageSrcs(p, 'Refined image')).toEqual(job.images.map((i) => DATA_PNG + i.png));
    expectClean(shared, from);
  });

  it('e. reproduces the generate job from History to the same PNG bytes', async () => {
    expect(generated, 'test b ran').toBeDefined();
    const p = await page();
    const from = mark();
    const history = p.getByRole('list', { name: 'History' });
    const item = history.getByRole('listitem').filter({ hasText: /generate/i }).filter({ hasText: 'SUCCEEDED' });
    await expect.poll(() => item.count(), { timeout: 10_000 }).toBe(1);
    // its manifest is the job's
    await item.getByText('Manifest', { exact: true }).click();
    const manifest = await item.locator('details').textContent();
    expect(manifest).toContain(generated!.jobId);
    expect(manifest).toMatch(/"seed":\s*7\b/);

    await resetJobUi(p);
    const id = await startJob(p, () => item.getByRole('button', { name: 'Reproduce', exact: true }).click());
    expect(id).not.toBe(generated!.jobId);
    await waitForStatus(p, 'SUCCEEDED');
    const refined = await imageSrcs(p, 'Refined image');
    expect(refined).toHaveLength(4);
    expect(refined).toEqual(generated!.refined);
    expect(await imageSrcs(p, 'Stage-1 image')).toEqual(generated!.stage1);

    // a new job, with the same bytes at the API too
    const job = await apiJob(id);
    expect(job).toMatchObject({ kind: 'GENERATE', status: 'SUCCEEDED' });
    expect(job.images.map((i) => DATA_PNG + i.png)).toEqual(generated!.refined);
    expectClean(shared, from);
  });

  it('e2. History comes from the API: after a reload it still lists the jobs of this key', async () => {
    expect(generated, 'test b ran').toBeDefined();
    const p = await page();
    const from = mark();
    // what History loads: this key's jobs, newest first
    const { jobs } = await gql<{ jobs: { edges: { node: { id: string; status: string } }[] } }>(platform, '{ jobs(first: 10) { edges { node { id status } } } }');
    expect(jobs.edges.map((e) => e.node.id)).toContain(generated!.jobId);

    await p.reload();
    await p.getByRole('radiogroup', { name: 'Job kind' }).waitFor();
    await recordJobUi(p);
    const list = p.getByRole('list', { name: 'History' });
    const items = list.getByRole('listitem');
    // b's generate and e's reproduction (SUCCEEDED), c's (CANCELLED), d's super-resolution
    await expect
      .poll(async () => (await items.allTextContents()).length, { timeout: 15_000, message: 'History after a reload' })
      .toBeGreaterThanOrEqual(4);
    expect(await items.filter({ hasText: /generate/i }).filter({ hasText: 'SUCCEEDED' }).count()).toBe(2);
    expect(await items.filter({ hasText: 'CANCELLED' }).count()).toBe(1);
    expectClean(shared, from);
  });

  it('f. fits a phone (390×844) and a desktop (1280×900) without horizontal scrolling', async () => {
    for (const viewport of [
      { width: 390, height: 844 },
      { width: 1280, height: 900 },
    ]) {
      const w = await openPage(browser, platform, viewport);
      try {
        await w.page.goto(platform.playgroundUrl);
        await w.page.getByRole('radiogroup', { name: 'Job kind' }).waitFor({ timeout: 60_000 });
        await w.page.getByRole('button', { name: 'Run', exact: true }).waitFor();
        // the widest form (super-resolution: scale, image drop zone) too
        for (const kind of ['Generate', 'Super-resolution', 'Interpolate']) {
          await w.page.getByRole('radio', { name: kind, exact: true }).check();
          const { scrollWidth, innerWidth } = await w.page.evaluate<{ scrollWidth: number; innerWidth: number }>(
            '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
          );
          expect(scrollWidth, `${viewport.width}×${viewport.height}, ${kind}: scrollWidth ${scrollWidth} ≤ innerWidth ${innerWidth}`).toBeLessThanOrEqual(innerWidth);
        }
        const run = await w.page.getByRole('button', { name: 'Run', exact: true }).boundingBox();
        expect(run!.x + run!.width).toBeLessThanOrEqual(viewport.width);
        expectClean(w);
      } finally {
        await w.close();
      }
    }
  });
});
