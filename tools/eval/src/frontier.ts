/**
 * The speed–quality frontier (`npm run eval -- --frontier`): FID-FMNIST against refiner calls and images/s for
 * each sampler at several step counts and precisions. A point costs minutes to an hour of CPU at 5,000 samples,
 * so the points accumulate in docs/results/eval.json (`frontier`), each with the model, sample count and seed it
 * was measured with; a run measures only what is missing and can stop after a time budget, and the next run goes
 * on. The pure parts (plan, bookkeeping, the default's rule, the plot) live here; main.ts does the sampling.
 */
import { DEFAULT_SAMPLER, type SamplerSettings } from '@diffusevae/schedulers';

export const FRONTIER_SAMPLERS = {
  'ddim-eta0': { label: 'DDIM η = 0', settings: { kind: 'DDIM', eta: 0 } },
  'ddim-eta1': { label: 'DDIM η = 1', settings: { kind: 'DDIM', eta: 1 } },
  dpmpp2m: { label: 'DPM-Solver++(2M)', settings: { kind: 'DPMPP_2M' } },
  'dpmpp2m-sde': { label: 'DPM-Solver++(2M) SDE', settings: { kind: 'DPMPP_2M_SDE' } },
} as const satisfies Record<string, { label: string; settings: Partial<SamplerSettings> }>;
export type FrontierSampler = keyof typeof FRONTIER_SAMPLERS;
export const FRONTIER_SAMPLER_NAMES = Object.keys(FRONTIER_SAMPLERS) as FrontierSampler[];
export const FRONTIER_STEPS = [5, 8, 10, 15, 20, 25] as const;
export const PRECISIONS = ['fp32', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];
/** every frontier point uses trailing spacing: at 5–25 steps leading starts far below t = T − 1 (docs/samplers.md) */
export const FRONTIER_SPACING = 'trailing' as const;
/** the default sampler must come within this of the reference's FID (DDIM 50, η = 1) */
export const DEFAULT_TOLERANCE = 0.05;

export interface FrontierSpec {
  sampler: FrontierSampler;
  steps: number;
  precision: Precision;
}

/**
 * The refiner's image-steps/s per precision at the evaluation's batch, timed in one run with nothing else sampling:
 * the plot's speed axis. A point's own rate (taken while it sampled, over hours on a shared machine) is kept for the
 * record but is not comparable across points.
 */
export interface FrontierSpeed {
  imageStepsPerSec: Partial<Record<Precision, number>>;
  batch: number;
  cpuModel: string;
  date: string;
}

export interface FrontierPoint extends FrontierSpec {
  spacing: typeof FRONTIER_SPACING;
  fid: number;
  /** refiner image-steps per second while this point was sampled (this machine, this run) */
  imageStepsPerSec: number;
  samples: number;
  seed: number;
  /** the refiner file that made the samples */
  refinerSha256: string;
  date: string;
}

export function samplerSettings(spec: FrontierSpec, formulation: 1 | 2): SamplerSettings {
  return { ...DEFAULT_SAMPLER, ...FRONTIER_SAMPLERS[spec.sampler].settings, steps: spec.steps, timestepSpacing: FRONTIER_SPACING, formulation };
}

/** Cheapest first (fewest steps, then the order given): a run cut short by its budget has the informative points. */
export function frontierPlan(samplers: readonly FrontierSampler[], steps: readonly number[], precisions: readonly Precision[]): FrontierSpec[] {
  const out: FrontierSpec[] = [];
  for (const s of [...steps].sort((a, b) => a - b)) for (const precision of precisions) for (const sampler of samplers) out.push({ sampler, steps: s, precision });
  return out;
}

const same = (a: FrontierSpec, b: FrontierSpec) => a.sampler === b.sampler && a.steps === b.steps && a.precision === b.precision;

/** A point counts for this run only if it was measured with the same refiner file, sample count and seed. */
export function findPoint(points: readonly FrontierPoint[], spec: FrontierSpec, at: { samples: number; seed: number; refinerSha256: string }): FrontierPoint | undefined {
  return points.find((p) => same(p, spec) && p.samples === at.samples && p.seed === at.seed && p.refinerSha256 === at.refinerSha256);
}

/** Replaces the point with the same spec (a re-measurement, e.g. after retraining), keeps the rest, sorted. */
export function mergePoint(points: readonly FrontierPoint[], p: FrontierPoint): FrontierPoint[] {
  const order = (x: FrontierPoint) => [FRONTIER_SAMPLER_NAMES.indexOf(x.sampler), PRECISIONS.indexOf(x.precision), x.steps];
  return [...points.filter((q) => !same(q, p)), p].sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}

/**
 * The platform's default by the issue's rule: the fewest steps whose FID is within `tolerance` of the
 * reference (DDIM 50, η = 1); among equal steps the lower FID. Undefined when no point qualifies.
 */
export function chooseDefault(points: readonly FrontierPoint[], referenceFid: number, precision: Precision = 'fp32', tolerance = DEFAULT_TOLERANCE): FrontierPoint | undefined {
  const ok = points.filter((p) => p.precision === precision && p.fid <= referenceFid * (1 + tolerance));
  return ok.sort((a, b) => a.steps - b.steps || a.fid - b.fid)[0];
}

// ----------------------------------------------------------------------------------------------- the plot

const COLORS: Record<FrontierSampler, string> = { 'ddim-eta0': '#9467bd', 'ddim-eta1': '#1f77b4', dpmpp2m: '#2ca02c', 'dpmpp2m-sde': '#d62728' };

interface Panel {
  title: string;
  xLabel: string;
  x: (p: FrontierPoint) => number;
  logX: boolean;
}

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) out.push(m * 10 ** e);
    return out.filter((v) => v >= lo * 0.999 && v <= hi * 1.001);
  }
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200].find((s) => (hi - lo) / s <= 6) ?? 500;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : String(Number(v.toPrecision(2))));

/**
 * Two panels, FID against steps and against images/s (image-steps/s of its precision ÷ steps), one line per
 * sampler and precision (int8 dashed), and the reference's FID with its 5 % band. Plain SVG: no plotting library.
 */
export function frontierSvg(points: readonly FrontierPoint[], reference?: { label: string; fid: number }, speed?: FrontierSpeed): string {
  const rate = (p: FrontierPoint) => speed?.imageStepsPerSec[p.precision] ?? p.imageStepsPerSec;
  const W = 460;
  const H = 340;
  const m = { l: 58, r: 14, t: 30, b: 46 };
  const panels: Panel[] = [
    { title: 'FID-FMNIST against refiner steps', xLabel: 'refiner steps (calls per image)', x: (p) => p.steps, logX: false },
    { title: 'FID-FMNIST against speed', xLabel: `images/s (refiner, one process${speed ? `, ${speed.cpuModel}` : ''})`, x: (p) => rate(p) / p.steps, logX: true },
  ];
  const fids = points.map((p) => p.fid).concat(reference ? [reference.fid * (1 + DEFAULT_TOLERANCE), reference.fid] : []);
  const yLo = Math.max(0, Math.min(...fids) * 0.95);
  const yHi = Math.max(...fids) * 1.03;
  const parts: string[] = [];
  panels.forEach((panel, k) => {
    const ox = k * W;
    const xs = points.map(panel.x);
    let xLo = Math.min(...xs);
    let xHi = Math.max(...xs);
    if (panel.logX) [xLo, xHi] = [xLo / 1.15, xHi * 1.15];
    else [xLo, xHi] = [Math.max(0, xLo - 2), xHi + 2];
    const X = (v: number) =>
      ox + m.l + (panel.logX ? Math.log(v / xLo) / Math.log(xHi / xLo) : (v - xLo) / (xHi - xLo)) * (W - m.l - m.r);
    const Y = (v: number) => m.t + (1 - (v - yLo) / (yHi - yLo)) * (H - m.t - m.b);
    parts.push(`<text x="${ox + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`);
    parts.push(`<rect x="${ox + m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#888"/>`);
    for (const t of niceTicks(xLo, xHi, panel.logX)) {
      parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#888"/>`);
      parts.push(`<text x="${X(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
    }
    for (const t of niceTicks(yLo, yHi, false)) {
      parts.push(`<line x1="${ox + m.l - 4}" x2="${ox + m.l}" y1="${Y(t)}" y2="${Y(t)}" stroke="#888"/>`);
      parts.push(`<text x="${ox + m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
    }
    parts.push(`<text x="${ox + (W + m.l - m.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(panel.xLabel)}</text>`);
    parts.push(`<text transform="translate(${ox + 14} ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">FID-FMNIST (lower is better)</text>`);
    if (reference) {
      const band = reference.fid * (1 + DEFAULT_TOLERANCE);
      parts.push(`<rect x="${ox + m.l}" y="${Y(band)}" width="${W - m.l - m.r}" height="${Y(reference.fid) - Y(band)}" fill="#f5d76e" fill-opacity="0.35"/>`);
      parts.push(`<line x1="${ox + m.l}" x2="${ox + W - m.r}" y1="${Y(reference.fid)}" y2="${Y(reference.fid)}" stroke="#b8860b" stroke-dasharray="2 3"/>`);
    }
    for (const sampler of FRONTIER_SAMPLER_NAMES) {
      for (const precision of PRECISIONS) {
        const series = points.filter((p) => p.sampler === sampler && p.precision === precision).sort((a, b) => panel.x(a) - panel.x(b));
        if (series.length === 0) continue;
        const dash = precision === 'int8' ? ' stroke-dasharray="5 3"' : '';
        parts.push(
          `<polyline class="series" data-sampler="${sampler}" data-precision="${precision}" fill="none" stroke="${COLORS[sampler]}" stroke-width="1.8"${dash} points="${series.map((p) => `${X(panel.x(p)).toFixed(1)},${Y(p.fid).toFixed(1)}`).join(' ')}"/>`,
        );
        for (const p of series) parts.push(`<circle cx="${X(panel.x(p)).toFixed(1)}" cy="${Y(p.fid).toFixed(1)}" r="2.6" fill="${COLORS[sampler]}"/>`);
      }
    }
  });
  // legend under the panels
  const legend: string[] = [];
  let lx = m.l;
  const ly = H + 16;
  const entries: [string, string, boolean][] = [];
  for (const sampler of FRONTIER_SAMPLER_NAMES) {
    for (const precision of PRECISIONS) {
      if (points.some((p) => p.sampler === sampler && p.precision === precision)) entries.push([`${FRONTIER_SAMPLERS[sampler].label}, ${precision}`, COLORS[sampler], precision === 'int8']);
    }
  }
  if (reference) entries.push([`${reference.label} (band: +${DEFAULT_TOLERANCE * 100} %)`, '#b8860b', true]);
  for (const [label, color, dashed] of entries) {
    legend.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    legend.push(`<text x="${lx + 26}" y="${ly}">${esc(label)}</text>`);
    lx += 40 + label.length * 6.2;
  }
  const width = 2 * W;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 30}" viewBox="0 0 ${width} ${H + 30}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${H + 30}" fill="white"/>`,
    ...parts,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

/** The frontier's page: the table, the rule's choice, how it was measured. */
export function frontierMarkdown(o: {
  points: readonly FrontierPoint[];
  speed?: FrontierSpeed;
  reference: { label: string; fid: number; samples: number };
  svgFile: string;
  command: string;
  missing: readonly FrontierSpec[];
}): string {
  const chosen = chooseDefault(o.points, o.reference.fid);
  const rate = (p: FrontierPoint) => o.speed?.imageStepsPerSec[p.precision];
  const rows = [...o.points].sort((a, b) => a.steps - b.steps || FRONTIER_SAMPLER_NAMES.indexOf(a.sampler) - FRONTIER_SAMPLER_NAMES.indexOf(b.sampler));
  return [
    '# The speed–quality frontier',
    '',
    `FID-FMNIST (lower is better) of each sampler at a few step counts, against ${o.reference.label} (FID ${o.reference.fid.toFixed(2)},`,
    `${o.reference.samples} samples). Every point: trailing spacing, x̂₀ clipped, the same seed and stage-1 images, written as it`,
    'is measured to `docs/results/eval.json` (`frontier`). images/s is the refiner’s image-steps/s at its precision ÷ steps,',
    o.speed
      ? `timed in one run at batch ${o.speed.batch} on ${o.speed.cpuModel} (${o.speed.date}): ${Object.entries(o.speed.imageStepsPerSec).map(([k, v]) => `${k} ${v!.toFixed(0)}`).join(', ')} image-steps/s.`
      : 'from each point’s own run (no timing run yet).',
    '',
    `![FID-FMNIST against steps and images/s](${o.svgFile})`,
    '',
    '| sampler | precision | steps | samples | FID-FMNIST | vs reference | images/s |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (p) =>
        `| ${FRONTIER_SAMPLERS[p.sampler].label} | ${p.precision} | ${p.steps} | ${p.samples} | ${p.fid.toFixed(2)} | ${(p.fid / o.reference.fid).toFixed(3)} | ${((rate(p) ?? p.imageStepsPerSec) / p.steps).toFixed(1)} |`,
    ),
    '',
    '## The default sampler',
    '',
    chosen
      ? `The rule (the fewest steps within ${DEFAULT_TOLERANCE * 100} % of the reference's FID, fp32) picks **${FRONTIER_SAMPLERS[chosen.sampler].label}, ${chosen.steps} steps** (FID ${chosen.fid.toFixed(2)}, ${(chosen.fid / o.reference.fid).toFixed(3)}× the reference).`
      : `No measured point is within ${DEFAULT_TOLERANCE * 100} % of the reference yet.`,
    '',
    ...(o.missing.length
      ? [
          `Not measured yet (${o.missing.length}; the next \`${o.command}\` goes on with them): ${o.missing.map((s) => `${s.sampler} ${s.steps} ${s.precision}`).join(', ')}.`,
          '',
        ]
      : []),
    `Command: \`${o.command}\`.`,
    '',
  ].join('\n');
}
