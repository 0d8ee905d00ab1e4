import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import path from 'node:path';
import { ROOT, gql, launchBrowser, launchPlatform, openPage, until, type Platform, type WatchedPage } from './harness';

// The playground on a platform serving two sets, the discrete `fmnist` (default) and `fmnist-cont` (conditioned on
// the noise level), in chromium: the model-set picker, and the noise-schedule choice a continuous set adds, sent to
// the API and walked by the job (its manifest says so).
let platform: Platform;
let browser: Browser;
let w: WatchedPage | undefined;

beforeAll(async () => {
  platform = await launchPlatform({ MODEL_DIR: ['models/fmnist', 'models/fmnist-cont'].map((d) => path.join(ROOT, d)).join(',') });
  browser = await launchBrowser();
});

afterAll(async () => {
  await w?.close();
  await browser?.close();
  await platform?.stop();
});

describe('playground, two model sets', () => {
  it('picks the continuous set, offers its noise schedules, and runs a job on log-SNR steps there', async () => {
    w = await openPage(browser, platform);
    const p = w.page;
    await p.goto(platform.playgroundUrl);
    const field = (label: string) => p.getByLabel(label, { exact: true });
    await field('Model set').waitFor({ timeout: 60_000 });

    // the discrete default walks the training schedule only: no choice shown
    expect(await field('Model set').inputValue()).toBe('fmnist');
    expect(await field('Noise schedule').count()).toBe(0);

    await field('Model set').selectOption('fmnist-cont');
    const schedule = field('Noise schedule');
    await schedule.waitFor();
    expect(await schedule.locator('option').allTextContents()).toEqual(['Training schedule', 'Log-SNR uniform (σ)', 'Karras, ρ = 7 (σ)']);
    expect(await schedule.inputValue()).toBe('');
    // denoising starts at the input's noise level: no schedule to choose
    await p.getByRole('radio', { name: 'Denoise', exact: true }).check();
    expect(await field('Noise schedule').count()).toBe(0);
    await p.getByRole('radio', { name: 'Generate', exact: true }).check();

    await field('Noise schedule').selectOption('LOG_SNR');
    await field('Seed').fill('3');
    await field('Steps').fill('4');
    const answered = p.waitForResponse((r) => new URL(r.url()).pathname === '/graphql' && /^\s*mutation Generate\b/.test(JSON.parse(r.request().postData() ?? '{}').query ?? ''));
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    const body = (await (await answered).json()) as { data?: { job?: { id: string } } };
    const id = body.data?.job?.id;
    expect(id, JSON.stringify(body)).toBeDefined();

    const job = await until(
      `job ${id} finished`,
      async () => {
        const r = await gql<{ job: { status: string; error: string | null; manifest: Record<string, any> | null } }>(platform, 'query($id: ID!) { job(id: $id) { status error manifest } }', { id });
        return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.job.status) ? r.job : undefined;
      },
      120_000,
      250,
    );
    expect(job.status, job.error ?? '').toBe('SUCCEEDED');
    expect(job.manifest!.model.name).toBe('fmnist-cont');
    expect(job.manifest!.sampler).toMatchObject({ steps: 4, inferenceSchedule: { kind: 'LOG_SNR' } });
    expect(job.manifest!.sampler.inferenceSchedule.sigmaMax).toBeCloseTo(157.4, 0);
    await until('the page shows it', async () => ((await p.getByTestId('job-status').textContent())?.trim() === 'SUCCEEDED' ? true : undefined), 30_000);
    expect(w.errors).toEqual([]);
  });
});
