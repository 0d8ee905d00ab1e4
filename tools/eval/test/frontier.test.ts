import { describe, expect, it } from 'vitest';
import { parseEvalArgs, UsageError } from '../src/args.js';
import { chooseDefault, findPoint, frontierMarkdown, frontierPlan, frontierSvg, mergePoint, samplerSettings, type FrontierPoint } from '../src/frontier.js';

const at = { samples: 5000, seed: 0, refinerSha256: 'a'.repeat(64) };
const pt = (sampler: FrontierPoint['sampler'], steps: number, fid: number, precision: FrontierPoint['precision'] = 'fp32'): FrontierPoint => ({
  sampler,
  steps,
  precision,
  spacing: 'trailing',
  fid,
  imageStepsPerSec: precision === 'int8' ? 150 : 90,
  ...at,
  date: '2026-12-03',
});

describe('the frontier', () => {
  it('plans the cheapest points first, every sampler and precision at each step count', () => {
    const plan = frontierPlan(['ddim-eta1', 'dpmpp2m-sde'], [10, 5], ['fp32', 'int8']);
    expect(plan.map((s) => `${s.sampler}/${s.steps}/${s.precision}`)).toEqual([
      'ddim-eta1/5/fp32', 'dpmpp2m-sde/5/fp32', 'ddim-eta1/5/int8', 'dpmpp2m-sde/5/int8',
      'ddim-eta1/10/fp32', 'dpmpp2m-sde/10/fp32', 'ddim-eta1/10/int8', 'dpmpp2m-sde/10/int8',
    ]);
  });

  it('sampler settings: trailing spacing, the kind and eta of the series, the model’s formulation', () => {
    expect(samplerSettings({ sampler: 'ddim-eta0', steps: 8, precision: 'fp32' }, 2)).toMatchObject({ kind: 'DDIM', eta: 0, steps: 8, timestepSpacing: 'trailing', formulation: 2 });
    expect(samplerSettings({ sampler: 'dpmpp2m-sde', steps: 5, precision: 'int8' }, 1)).toMatchObject({ kind: 'DPMPP_2M_SDE', steps: 5, timestepSpacing: 'trailing' });
  });

  it('keeps a point only for the same refiner file, samples and seed; a re-measurement replaces it', () => {
    const points = [pt('dpmpp2m-sde', 10, 177.4)];
    const spec = { sampler: 'dpmpp2m-sde', steps: 10, precision: 'fp32' } as const;
    expect(findPoint(points, spec, at)).toBe(points[0]);
    expect(findPoint(points, spec, { ...at, refinerSha256: 'b'.repeat(64) })).toBeUndefined();
    expect(findPoint(points, spec, { ...at, samples: 1000 })).toBeUndefined();
    expect(findPoint(points, { ...spec, precision: 'int8' }, at)).toBeUndefined();
    const merged = mergePoint(mergePoint(points, pt('ddim-eta1', 5, 300)), pt('dpmpp2m-sde', 10, 175));
    expect(merged.map((p) => [p.sampler, p.steps, p.fid])).toEqual([['ddim-eta1', 5, 300], ['dpmpp2m-sde', 10, 175]]);
  });

  it('chooses the fewest steps within 5 % of the reference, the lower FID among equals, fp32 by default', () => {
    const points = [pt('dpmpp2m-sde', 10, 177.4), pt('dpmpp2m-sde', 8, 190), pt('ddim-eta1', 10, 218), pt('dpmpp2m', 10, 176), pt('dpmpp2m-sde', 5, 170, 'int8')];
    expect(chooseDefault(points, 176.2)).toMatchObject({ sampler: 'dpmpp2m', steps: 10 });
    expect(chooseDefault(points, 176.2, 'int8')).toMatchObject({ steps: 5 });
    expect(chooseDefault(points, 100)).toBeUndefined();
    expect(chooseDefault([...points, pt('dpmpp2m-sde', 8, 185)], 176.2)).toMatchObject({ steps: 8 }); // 185 ≤ 176.2 × 1.05
  });

  it('draws one line per sampler and precision in each of the two panels, int8 dashed', () => {
    const svg = frontierSvg([pt('dpmpp2m-sde', 5, 200), pt('dpmpp2m-sde', 10, 177), pt('ddim-eta1', 10, 218), pt('dpmpp2m-sde', 10, 180, 'int8')], { label: 'DDIM 50', fid: 176.2 });
    expect(svg.startsWith('<svg')).toBe(true);
    const lines = [...svg.matchAll(/<polyline class="series" data-sampler="([^"]+)" data-precision="([^"]+)"[^>]*points="([^"]+)"/g)];
    expect(lines.map((m) => `${m[1]}/${m[2]}`).sort()).toEqual(['ddim-eta1/fp32', 'ddim-eta1/fp32', 'dpmpp2m-sde/fp32', 'dpmpp2m-sde/fp32', 'dpmpp2m-sde/int8', 'dpmpp2m-sde/int8']);
    for (const m of lines) for (const xy of m[3]!.split(' ')) expect(xy).toMatch(/^\d+(\.\d)?,\d+(\.\d)?$/);
    expect(svg).toMatch(/stroke-dasharray="5 3" points=/);
  });

  it('the page names the choice and what is still to measure', () => {
    const md = frontierMarkdown({
      points: [pt('dpmpp2m-sde', 10, 177.4)],
      reference: { label: 'DDIM 50', fid: 176.2, samples: 5000 },
      svgFile: 'frontier.svg',
      command: 'npm run eval -- --frontier',
      missing: [{ sampler: 'dpmpp2m-sde', steps: 8, precision: 'fp32' }],
    });
    expect(md).toMatch(/picks \*\*DPM-Solver\+\+\(2M\) SDE, 10 steps\*\* \(FID 177\.40, 1\.007× the reference\)/);
    expect(md).toMatch(/Not measured yet \(1; .*\): dpmpp2m-sde 8 fp32\./);
  });

  it('flags: --frontier with its own options, refused without it or with --only', () => {
    expect(parseEvalArgs(['--frontier'], '/repo')).toMatchObject({ frontier: { samplers: ['ddim-eta0', 'ddim-eta1', 'dpmpp2m', 'dpmpp2m-sde'], steps: [5, 8, 10, 15, 20, 25], precisions: ['fp32', 'int8'] } });
    expect(parseEvalArgs(['--frontier', '--samplers', 'dpmpp2m-sde', '--steps', '5,8', '--precision', 'fp32', '--budget-min', '30'], '/repo')).toMatchObject({
      frontier: { samplers: ['dpmpp2m-sde'], steps: [5, 8], precisions: ['fp32'], budgetMin: 30 },
    });
    expect(() => parseEvalArgs(['--steps', '5'], '/r')).toThrow(new UsageError('--steps: only with --frontier'));
    expect(() => parseEvalArgs(['--frontier', '--samplers', 'euler'], '/r')).toThrow(/--samplers: must be among ddim-eta0, ddim-eta1, dpmpp2m, dpmpp2m-sde, got "euler"/);
    expect(() => parseEvalArgs(['--frontier', '--steps', '0'], '/r')).toThrow(/--steps: must be an integer ≥ 1/);
    expect(() => parseEvalArgs(['--frontier', '--only', 'vae'], '/r')).toThrow(/choose one/);
  });
});
