import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Table3Results } from '../src/table3.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

// ~25 s on a busy CPU: one row, 8 samples a formulation, into a folder under tmp/ that is removed afterwards
describe('npm run eval -- --table3 (smoke)', () => {
  it('measures both formulations of a row, writes eval.json and the section, and keeps the cells on a second run', async () => {
    await mkdir(path.join(ROOT, 'tmp'), { recursive: true });
    const out = await mkdtemp(path.join(ROOT, 'tmp', 'table3-test-'));
    const run = () =>
      promisify(execFile)(
        path.join(ROOT, 'node_modules/.bin/tsx'),
        [path.join(ROOT, 'tools/eval/src/main.ts'), '--table3', '--rows', '10_0.8', '--samples', '8', '--batch', '8', '--out', out],
        { cwd: ROOT },
      );
    try {
      const first = await run();
      expect(first.stdout).toMatch(/form1 10_0\.8: FID \d+\.\d+ \(8 samples/);
      expect(first.stdout).toMatch(/form2 10_0\.8: FID \d+\.\d+ \(8 samples/);
      const doc = JSON.parse(await readFile(path.join(out, 'results', 'eval.json'), 'utf8')) as { table3: Table3Results };
      for (const [form, formulation] of [['form1', 1], ['form2', 2]] as const) {
        const c = doc.table3[form]!['10_0.8']!;
        expect(c).toMatchObject({ samples: 8, seed: 0, sampler: { kind: 'DDPM', steps: 10, varianceType: 'fixedsmall', formulation, inferenceSchedule: { betaStart: 1e-6, betaEnd: 0.8 } } });
        expect(Number.isFinite(c.fid)).toBe(true);
        expect(c.refinerSha256).toMatch(/^[0-9a-f]{64}$/);
      }
      const page = await readFile(path.join(out, 'evaluation.md'), 'utf8');
      expect(page).toContain('## Table 3: Formulation 1 and 2, continuous noise conditioning');
      expect(page).toMatch(/\| 10 \| Linear\(1e-6, 0\.8\) \| \d+\.\d\d \(n = 8\) \| \d+\.\d\d \(n = 8\) \|/);
      const second = await run();
      expect(second.stdout).toMatch(/form1 10_0\.8: kept/);
      expect(second.stdout).toMatch(/form2 10_0\.8: kept/);
      expect(second.stdout).not.toMatch(/samples, \d+s, ETA/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
