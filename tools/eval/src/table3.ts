/**
 * The paper's Table 3 (`npm run eval -- --table3`): Formulation 1 against Formulation 2, both refiners conditioned on
 * the continuous noise level √ᾱ, each sampled with DDPM on a free inference schedule Linear(1e-6, end) over n steps.
 * A cell (formulation × row) costs minutes to an hour of CPU at 5,000 samples, so the cells accumulate in
 * <out>/results/eval.json (`table3`), each with the refiner file, sample count and seed it was measured with; a run
 * measures only what is missing. The pure parts (rows, settings, bookkeeping, the claim's rule, the page's section)
 * live here; table3-run.ts does the sampling.
 */
import { DEFAULT_SAMPLER, normalizeInferenceSchedule, type SamplerSettings } from '@diffusevae/schedulers';
import { noiseConditioning, type ModelManifest } from '@diffusevae/models';

/** β of the inference schedule's first step in every row (the paper's Linear(1e-6, end)). */
export const TABLE3_BETA_START = 1e-6;

/** The paper's four rows, cheapest first: n steps of Linear(1e-6, end). */
export const TABLE3_ROWS = [
  { key: '10_0.8', steps: 10, betaEnd: 0.8 },
  { key: '10_0.7', steps: 10, betaEnd: 0.7 },
  { key: '25_0.6', steps: 25, betaEnd: 0.6 },
  { key: '50_0.3', steps: 50, betaEnd: 0.3 },
] as const;
export type Table3Row = (typeof TABLE3_ROWS)[number];
export type Table3PaperKey = Table3Row['key'];
export const TABLE3_ROW_KEYS: readonly Table3PaperKey[] = TABLE3_ROWS.map((r) => r.key);

/**
 * Free 10-step schedules beyond the paper's rows, measured beside them for the bar the continuous Form-1 set is held
 * to (tenStepBar): a continuous set may walk noise levels no discrete set can. DPM-Solver++(2M) SDE on LOG_SNR (σ
 * geometric between the training schedule's cleanest and noisiest σ: equal steps in log-SNR, r = 1 at every step),
 * the best of the 10-step candidates measured at 500 samples (docs/samplers.md).
 */
export const FREE10_ROWS = [
  {
    key: 'free10_logsnr_sde',
    steps: 10,
    label: 'DPM-Solver++(2M) SDE, LOG_SNR over the training σ range',
    sampler: { kind: 'DPMPP_2M_SDE', inferenceSchedule: { kind: 'LOG_SNR' } },
  },
] as const satisfies readonly { key: string; steps: 10; label: string; sampler: Partial<SamplerSettings> }[];
export type Free10Row = (typeof FREE10_ROWS)[number];
export type Table3RowKey = Table3PaperKey | Free10Row['key'];
/** Every key a Table 3 run measures: the paper's rows, then the free 10-step ones */
export const TABLE3_ALL_KEYS: readonly Table3RowKey[] = [...TABLE3_ROW_KEYS, ...FREE10_ROWS.map((r) => r.key)];
export type Table3AnyRow = Table3Row | Free10Row;
const isPaperRow = (row: Table3AnyRow): row is Table3Row => 'betaEnd' in row;

export const TABLE3_FORMS = ['form1', 'form2'] as const;
export type Table3Form = (typeof TABLE3_FORMS)[number];
export const formulationOf = (form: Table3Form): 1 | 2 => (form === 'form1' ? 1 : 2);

/** A cell counts towards the paper's claim only at this many samples or more (FID's small-n bias). */
export const TABLE3_MIN_SAMPLES = 5000;

export interface Table3Cell {
  fid: number;
  samples: number;
  seed: number;
  /** the refiner file that made the samples */
  refinerSha256: string;
  modelName: string;
  sampler: SamplerSettings;
  /** ISO time the cell was written */
  measuredAt: string;
}

/** eval.json's `table3`: per formulation, per row key. */
export type Table3Results = Partial<Record<Table3Form, Partial<Record<Table3RowKey, Table3Cell>>>>;

export class Table3Error extends Error {
  override name = 'Table3Error';
}

/** `Linear(1e-6, end)`, as the paper writes it */
export const inferenceLabel = (row: Pick<Table3Row, 'betaEnd'>) => `Linear(${TABLE3_BETA_START.toExponential()}, ${row.betaEnd})`;

/**
 * Refuses a set Table 3 cannot use: one conditioned on the discrete timestep (an inference schedule's steps are not
 * training timesteps, so such a refiner would be fed meaningless t), or, with `form`, one of the other formulation.
 */
export function checkTable3Set(manifest: Pick<ModelManifest, 'name' | 'schedule'>, form?: Table3Form, flag?: string): void {
  const where = `${flag ? `${flag}: ` : ''}model set ${manifest.name}`;
  const conditioning = noiseConditioning(manifest);
  if (conditioning !== 'continuous') {
    throw new Table3Error(
      `${where} is conditioned on the ${conditioning} timestep (manifest schedule.noiseConditioning ${JSON.stringify(manifest.schedule.noiseConditioning ?? null)}): ` +
        'Table 3 samples on a free inference schedule Linear(1e-6, end), which needs a refiner conditioned on the continuous noise level ("continuous")',
    );
  }
  if (form && manifest.schedule.formulation !== formulationOf(form)) {
    throw new Table3Error(`${where} is Formulation ${manifest.schedule.formulation}, not ${formulationOf(form)} (manifest schedule.formulation)`);
  }
}

/**
 * The sampler of a row for a set: DDPM with the posterior variance β̃ ("fixedsmall", the ancestral sampler of the
 * DiffuseVAE reference code), temperature 1, x̂₀ clipped, the set's formulation, Linear(1e-6, end) over the row's
 * steps (every step used, so the spacing has no effect; η is DDIM's and unused).
 */
export function table3Settings(row: Pick<Table3Row, 'steps' | 'betaEnd'>, manifest: Pick<ModelManifest, 'name' | 'schedule'>): SamplerSettings {
  checkTable3Set(manifest);
  return {
    kind: 'DDPM',
    steps: row.steps,
    eta: 1,
    temperature: 1,
    varianceType: 'fixedsmall',
    timestepSpacing: 'trailing',
    clipSample: true,
    formulation: manifest.schedule.formulation,
    inferenceSchedule: { betaStart: TABLE3_BETA_START, betaEnd: row.betaEnd },
  };
}

/**
 * A free 10-step row's sampler for a set: its kind and schedule over DEFAULT_SAMPLER, the set's formulation, the
 * schedule's defaults filled in from the set's training schedule (so that the cell records the σ it walked).
 */
export function free10Settings(row: Free10Row, manifest: Pick<ModelManifest, 'name' | 'schedule'>): SamplerSettings {
  checkTable3Set(manifest);
  const { numTrainTimesteps, betaStart, betaEnd } = manifest.schedule;
  return {
    ...DEFAULT_SAMPLER,
    kind: row.sampler.kind,
    steps: row.steps,
    formulation: manifest.schedule.formulation,
    inferenceSchedule: normalizeInferenceSchedule(row.sampler.inferenceSchedule, { numTrainTimesteps, betaStart, betaEnd }),
  };
}

/** A row's sampler, paper row or free one. */
export const rowSettings = (row: Table3AnyRow, manifest: Pick<ModelManifest, 'name' | 'schedule'>): SamplerSettings =>
  isPaperRow(row) ? table3Settings(row, manifest) : free10Settings(row, manifest);

/** A row as the page and the log name it */
export const rowLabel = (row: Table3AnyRow): string => (isPaperRow(row) ? `DDPM ${row.steps} steps ${inferenceLabel(row)}` : `${row.label}, ${row.steps} steps`);

/**
 * Every (row, formulation) of the chosen rows, in the table's order (cheapest first), both formulations of a row
 * together; the free 10-step rows after the paper's.
 */
export function table3Plan(rows: readonly Table3RowKey[], forms: readonly Table3Form[] = TABLE3_FORMS): { form: Table3Form; row: Table3AnyRow }[] {
  return [...TABLE3_ROWS, ...FREE10_ROWS].filter((r) => rows.includes(r.key)).flatMap((row) => forms.map((form) => ({ form, row })));
}

const sameSettings = (a: SamplerSettings, b: SamplerSettings) => {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort() as (keyof SamplerSettings)[];
  return keys.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
};

/**
 * The stored cell, if it counts for this run: measured with the same refiner file, sample count and seed (and the
 * same sampler settings, so that a change to a row's definition is measured again). Else undefined: measure it.
 */
export function findCell(
  results: Table3Results | undefined,
  form: Table3Form,
  row: Table3RowKey,
  at: { samples: number; seed: number; refinerSha256: string; sampler?: SamplerSettings },
): Table3Cell | undefined {
  const c = results?.[form]?.[row];
  if (!c || c.samples !== at.samples || c.seed !== at.seed || c.refinerSha256 !== at.refinerSha256) return undefined;
  if (at.sampler && !sameSettings(c.sampler, at.sampler)) return undefined;
  return c;
}

/** The results with this cell in place (a re-measurement replaces it), rows in the table's order; the input is not changed. */
export function mergeCell(results: Table3Results | undefined, form: Table3Form, row: Table3RowKey, cell: Table3Cell): Table3Results {
  const out: Table3Results = {};
  for (const f of TABLE3_FORMS) {
    const cells = { ...(results?.[f] ?? {}), ...(f === form ? { [row]: cell } : {}) };
    const ordered = Object.fromEntries(TABLE3_ALL_KEYS.filter((k) => cells[k]).map((k) => [k, cells[k]]));
    if (Object.keys(ordered).length) out[f] = ordered;
  }
  return out;
}

export type Table3Verdict = 'confirmed' | 'refuted' | 'not yet measured';

/**
 * The paper's claim, Form-2 slightly ahead of Form-1 (lower FID): confirmed only when all 8 cells are measured at
 * ≥ 5,000 samples and Form-2 ≤ Form-1 in every row; refuted when all 8 are so measured and some row has Form-2 above
 * Form-1; otherwise not yet measured.
 */
export function table3Claim(results: Table3Results | undefined): { verdict: Table3Verdict; complete: number; worse: Table3RowKey[] } {
  const ok = (c: Table3Cell | undefined): c is Table3Cell => c !== undefined && Number.isFinite(c.fid) && c.samples >= TABLE3_MIN_SAMPLES;
  let complete = 0;
  for (const f of TABLE3_FORMS) for (const k of TABLE3_ROW_KEYS) if (ok(results?.[f]?.[k])) complete++;
  const worse = TABLE3_ROW_KEYS.filter((k) => {
    const [a, b] = [results?.form1?.[k], results?.form2?.[k]];
    return a && b && b.fid > a.fid;
  });
  const all = TABLE3_FORMS.length * TABLE3_ROWS.length;
  const verdict: Table3Verdict = complete < all ? 'not yet measured' : worse.length ? 'refuted' : 'confirmed';
  return { verdict, complete, worse };
}

/** The discrete Formulation-1 set's FID with the default sampler, for comparison. */
export interface Table3Baseline {
  modelName: string;
  label: string;
  fid: number;
  samples: number;
  /** where it was found (file and key) */
  source: string;
}

/** The default sampler (DEFAULT_SAMPLER) as a full run's row key and a frontier point. */
const DEFAULT_ROW_KEY = 'dpmpp2msde10';

/**
 * From an eval.json (a full run's `rows` and `model`, the frontier's points): the default sampler's FID for the set
 * the full run measured, if that set is discrete Formulation 1 (a full run's `model` names it). The full run's row
 * `dpmpp2msde10` first, else the frontier's fp32 point of the same sampler and steps for the same refiner file.
 */
export function discreteBaseline(doc: {
  rows?: { key: string; fid: number; samples: number }[];
  model?: { name?: string; sha256?: Record<string, string> };
  frontier?: { sampler: string; steps: number; precision: string; fid: number; samples: number; refinerSha256: string }[];
}): Table3Baseline | undefined {
  if (DEFAULT_SAMPLER.kind !== 'DPMPP_2M_SDE' || DEFAULT_SAMPLER.steps !== 10 || DEFAULT_SAMPLER.timestepSpacing !== 'trailing') return undefined;
  const label = 'DPM-Solver++(2M) SDE, 10 steps, trailing (the default sampler)';
  const modelName = doc.model?.name ?? 'the default set';
  const row = doc.rows?.find((r) => r.key === DEFAULT_ROW_KEY);
  if (row) return { modelName, label, fid: row.fid, samples: row.samples, source: `eval.json rows.${DEFAULT_ROW_KEY}` };
  const sha = doc.model?.sha256?.refiner;
  const p = sha ? doc.frontier?.find((q) => q.sampler === 'dpmpp2m-sde' && q.steps === 10 && q.precision === 'fp32' && q.refinerSha256 === sha) : undefined;
  return p ? { modelName, label, fid: p.fid, samples: p.samples, source: 'eval.json frontier (dpmpp2m-sde, 10 steps, fp32)' } : undefined;
}

/**
 * The discrete Formulation-1 set's DDIM 10 steps, η = 1 (a full run's row `ddim10`; DDIM η = 1 was the default sampler
 * when the continuous sets were asked for): the bar the continuous Form-1 set's 10-step free schedules are held to.
 */
export function ddim10Baseline(doc: { rows?: { key: string; fid: number; samples: number }[]; model?: { name?: string } }): Table3Baseline | undefined {
  const row = doc.rows?.find((r) => r.key === 'ddim10');
  return row ? { modelName: doc.model?.name ?? 'the default set', label: 'DDIM, 10 steps, η = 1, leading', fid: row.fid, samples: row.samples, source: 'eval.json rows.ddim10' } : undefined;
}

export type BarVerdict = 'met' | 'not met' | 'not yet measured';

/**
 * The continuous Form-1 set at 10 steps on a free schedule against a discrete baseline: its best 10-step row at
 * ≥ 5,000 samples (lower FID; the paper's 10-step rows and the free ones), `met` when that is at most the baseline's
 * FID (itself at ≥ 5,000 samples).
 */
export function tenStepBar(results: Table3Results | undefined, bar: Table3Baseline | undefined): { verdict: BarVerdict; row?: Table3AnyRow; cell?: Table3Cell } {
  const tens = [...TABLE3_ROWS.filter((row: Table3Row) => row.steps === 10), ...FREE10_ROWS]
    .map((row): { row: Table3AnyRow; cell: Table3Cell | undefined } => ({ row, cell: results?.form1?.[row.key] }))
    .filter((x): x is { row: Table3AnyRow; cell: Table3Cell } => x.cell !== undefined && x.cell.samples >= TABLE3_MIN_SAMPLES)
    .sort((a, b) => a.cell.fid - b.cell.fid);
  const best = tens[0];
  if (!best || !bar || bar.samples < TABLE3_MIN_SAMPLES) return { verdict: 'not yet measured', ...best };
  return { verdict: best.cell.fid <= bar.fid ? 'met' : 'not met', ...best };
}

/** One set's rows on the training schedule (a full or partial `npm run eval` of that set: its eval.json `rows`). */
export interface SetRows {
  modelName: string;
  rows: { key: string; label: string; fid: number; samples: number }[];
  /** the file they were read from, relative to the repository */
  source: string;
}

/** The DDIM rows (`ddim…`) of an eval.json, as SetRows; undefined when it has none. */
export function ddimRowsOf(doc: { rows?: { key: string; label?: string; fid: number; samples: number }[]; model?: { name?: string } }, source: string): SetRows | undefined {
  const rows = (doc.rows ?? []).filter((r) => /^ddim\d+$/.test(r.key)).map(({ key, label, fid, samples }) => ({ key, label: label ?? key, fid, samples }));
  return rows.length ? { modelName: doc.model?.name ?? '?', rows, source } : undefined;
}

export const TABLE3_BEGIN = '<!-- table3:begin (written by `npm run eval -- --table3` from results/eval.json; a full run keeps it) -->';
export const TABLE3_END = '<!-- table3:end -->';

const cellText = (c: Table3Cell | undefined) => (c ? `${c.fid.toFixed(2)} (n = ${c.samples})` : 'not measured yet');

/** The "Table 3" section of evaluation.md, between its markers. */
export function table3Markdown(o: {
  results: Table3Results | undefined;
  baseline?: Table3Baseline;
  ddim10?: Table3Baseline;
  /** each set's DDIM rows on the training schedule, the discrete set first */
  setRows?: SetRows[];
  command?: string;
}): string {
  const r = o.results;
  const claim = table3Claim(r);
  const sets = TABLE3_FORMS.map((f) => {
    const cells = Object.values(r?.[f] ?? {}) as Table3Cell[];
    const names = [...new Set(cells.map((c) => `\`${c.modelName}\` (refiner \`${c.refinerSha256.slice(0, 12)}…\`)`))];
    return `${f === 'form1' ? 'Form-1' : 'Form-2'}: ${names.length ? names.join(', ') : 'none measured yet'}`;
  });
  const measured = TABLE3_FORMS.flatMap((f) => TABLE3_ROWS.map((row) => ({ f, row, c: r?.[f]?.[row.key] }))).filter((x) => x.c);
  const best = [...measured].sort((a, b) => a.c!.fid - b.c!.fid)[0];
  const baseline = o.baseline
    ? [
        `For comparison, the discrete Formulation-1 set \`${o.baseline.modelName}\` with ${o.baseline.label}: FID ${o.baseline.fid.toFixed(2)} (n = ${o.baseline.samples}, ${o.baseline.source})` +
          (best
            ? `; the best Table 3 cell, ${best.f === 'form1' ? 'Form-1' : 'Form-2'} ${best.row.steps} steps ${inferenceLabel(best.row)}, is ${(best.c!.fid / o.baseline.fid).toFixed(3)}× that.`
            : '.'),
      ]
    : ['The discrete Formulation-1 set’s default-sampler FID is not in eval.json yet (a full `npm run eval` measures it).'];
  const bar = tenStepBar(r, o.ddim10);
  const barText = o.ddim10
    ? [
        '',
        `The continuous Form-1 set at 10 steps on a free schedule against the discrete set with ${o.ddim10.label} (FID ${o.ddim10.fid.toFixed(2)}, n = ${o.ddim10.samples}, ${o.ddim10.source}): ` +
          (bar.cell && bar.row
            ? `its best 10-step row, ${rowLabel(bar.row)}, reads ${bar.cell.fid.toFixed(2)} (${(bar.cell.fid / o.ddim10.fid).toFixed(3)}×): **${bar.verdict}**` +
              (o.baseline ? `; against ${o.baseline.label} it is ${(bar.cell.fid / o.baseline.fid).toFixed(3)}×.` : '.')
            : `**not yet measured** (no 10-step Form-1 cell at ≥ ${TABLE3_MIN_SAMPLES.toLocaleString('en-US')} samples).`),
      ]
    : [];
  const all = TABLE3_FORMS.length * TABLE3_ROWS.length;
  const verdict =
    claim.verdict === 'confirmed'
      ? `**confirmed**: Form-2 ≤ Form-1 in all ${TABLE3_ROWS.length} rows.`
      : claim.verdict === 'refuted'
        ? `**refuted**: Form-2 is above Form-1 in ${claim.worse.map((k) => `\`${k}\``).join(', ')}.`
        : `**not yet measured** (${claim.complete} of ${all} cells at ≥ ${TABLE3_MIN_SAMPLES.toLocaleString('en-US')} samples).`;
  return [
    TABLE3_BEGIN,
    '## Table 3: Formulation 1 and 2, continuous noise conditioning',
    '',
    'The paper’s Table 3: refiners conditioned on the continuous noise level √ᾱ (not the timestep), each sampled with DDPM',
    'on a free inference schedule Linear(1e-6, end) over n steps: posterior variance β̃ ("fixedsmall"), x̂₀ clipped,',
    'temperature 1, the same seed and stage-1 latents in every cell. FID-FMNIST against the 10,000 test images, lower is',
    'better; n is the number of samples (FID reads high at small n). Not comparable with the paper’s CIFAR-10 FIDs.',
    '',
    '| steps | inference schedule | Form-1 | Form-2 |',
    '|---:|---|---:|---:|',
    ...TABLE3_ROWS.map((row) => `| ${row.steps} | ${inferenceLabel(row)} | ${cellText(r?.form1?.[row.key])} | ${cellText(r?.form2?.[row.key])} |`),
    '',
    'Beside the paper’s rows, free 10-step schedules (not in the paper; a continuous set may walk noise levels no',
    'discrete set can), same seed and latents:',
    '',
    '| steps | sampler and schedule | Form-1 | Form-2 |',
    '|---:|---|---:|---:|',
    ...FREE10_ROWS.map((row) => `| ${row.steps} | ${row.label} | ${cellText(r?.form1?.[row.key])} | ${cellText(r?.form2?.[row.key])} |`),
    '',
    `Model sets: ${sets.join('; ')}.`,
    '',
    ...baseline,
    ...barText,
    ...setRowsText(o.setRows),
    '',
    `The paper’s claim (Form-2 slightly ahead of Form-1): ${verdict}`,
    '',
    `Command: \`${o.command ?? 'npm run eval -- --table3'}\` (cells already in results/eval.json for the same refiner, samples and seed are kept).`,
    TABLE3_END,
  ].join('\n');
}

/**
 * Each set's DDIM rows on the training schedule (DDIM η = 1, leading; a continuous set fed √ᾱ_t of each step), one
 * column per set; nothing when there are none.
 */
function setRowsText(sets: SetRows[] | undefined): string[] {
  if (!sets?.length) return [];
  const keys = [...new Set(sets.flatMap((s) => s.rows.map((r) => r.key)))].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const cell = (s: SetRows, k: string) => {
    const r = s.rows.find((x) => x.key === k);
    return r ? `${r.fid.toFixed(2)} (n = ${r.samples})` : 'not measured';
  };
  return [
    '',
    'Every set on the training schedule, the discrete DDIM rows (DDIM η = 1, leading spacing, x̂₀ clipped; a continuous set',
    'is fed √ᾱ_t of each step), same seed:',
    '',
    `| DDIM steps | ${sets.map((s) => `\`${s.modelName}\``).join(' | ')} |`,
    `|---:|${sets.map(() => '---:').join('|')}|`,
    ...keys.map((k) => `| ${k.slice(4)} | ${sets.map((s) => cell(s, k)).join(' | ')} |`),
    '',
    `From ${sets.map((s) => `${s.source}`).join(', ')} (\`npm run eval -- --only ddim10,ddim25 --model-dir models/<set> --out docs/eval-<set>\` for a continuous set).`,
  ];
}

/**
 * The page with the section in place: replaces the one between the markers, else goes before the model files' list
 * (a full run's page), else at the end. `section` undefined: the page unchanged.
 */
export function upsertTable3Section(page: string, section: string | undefined): string {
  if (section === undefined) return page;
  const b = page.indexOf(TABLE3_BEGIN);
  const e = page.indexOf(TABLE3_END);
  if (b >= 0 && e > b) return page.slice(0, b) + section + page.slice(e + TABLE3_END.length);
  const anchor = page.indexOf('\nModel files (sha256):');
  if (anchor >= 0) return `${page.slice(0, anchor + 1)}${section}\n\n${page.slice(anchor + 1)}`;
  return `${page.replace(/\n*$/, '')}\n\n${section}\n`;
}
