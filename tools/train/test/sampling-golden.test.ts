import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const TRAIN = path.resolve(import.meta.dirname, '../train.sh');
const COMMITTED = path.resolve(import.meta.dirname, '../golden/sampling.json');

// libs/schedulers/test/inference-schedule.test.ts holds the TypeScript to golden/sampling.json; this holds the Python
// reference loop (sampling.py reverse_process) to it, so that a change on either side shows.
describe('golden/sampling.json (inference schedules, noise-level conditioning; no model)', () => {
  it('is what the Python reference loop writes today', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffusevae-golden-sampling-'));
    try {
      const out = path.join(dir, 'sampling.json');
      const r = spawnSync('bash', [TRAIN, 'golden-sampling', '--threads', '1', '--out', out], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(COMMITTED, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
