/**
 * `npm run eval -- --table3`: measures Table 3's missing cells (table3.ts has the rows, the settings and the rules),
 * writing each into <out>/results/eval.json (`table3`) as soon as it is done, then the "Table 3" section of
 * <out>/evaluation.md. The samples go through the same in-process path as every other row (runPlan → generate →
 * localStages), which feeds a continuous set's refiner the noise level √ᾱ of each step.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadFashionMnist } from '@diffusevae/datasets';
import type { FeatureStats } from '@diffusevae/metrics';
import { ModelSet, readManifest } from '@diffusevae/models';
import type { EvalOptions } from './args.js';
import { readJson, writeJsonAtomic } from './eval-json.js';
import { fid, statsOf, toModel } from './fid.js';
import { runPlan } from './run.js';
import {
  checkTable3Set,
  ddimRowsOf,
  ddim10Baseline,
  discreteBaseline,
  findCell,
  formulationOf,
  mergeCell,
  rowLabel,
  rowSettings,
  table3Claim,
  table3Markdown,
  table3Plan,
  upsertTable3Section,
  TABLE3_FORMS,
  type Table3Baseline,
  type Table3Cell,
  type Table3Form,
  type SetRows,
  type Table3Results,
} from './table3.js';

type Json = Record<string, unknown> & { table3?: Table3Results } & Parameters<typeof discreteBaseline>[0];

/** A discrete set's baseline (`pick`: the default sampler's, DDIM 10's): from this eval.json, else the committed one (read only). */
async function baselineFrom(root: string, files: string[], pick: (doc: Json) => Table3Baseline | undefined) {
  for (const f of files) {
    const b = pick((await readJson<Json>(f)) ?? {});
    if (b) return { ...b, source: b.source.replace(/^eval\.json/, path.relative(root, f)) };
  }
  return undefined;
}

/** The page with the section in place: <out>/evaluation.md if there is one (a full run's), else a page with only it. */
export async function writeTable3Page(outDir: string, section: string): Promise<string> {
  const file = path.join(outDir, 'evaluation.md');
  const page = existsSync(file)
    ? await readFile(file, 'utf8')
    : '# Evaluation: FID-FMNIST\n\nOnly the Table 3 section so far: a full `npm run eval -- --out <this folder>` writes the rest.\n';
  await writeFile(file, upsertTable3Section(page, section));
  return file;
}

export async function runTable3(
  o: EvalOptions & { table3: NonNullable<EvalOptions['table3']> },
  ctx: { root: string; command: string; log: (m: string) => void },
): Promise<{ results: Table3Results; measured: { form: Table3Form; row: string; fid: number }[] }> {
  const jsonFile = path.join(o.outDir, 'results', 'eval.json');
  const dirs: Record<Table3Form, string> = { form1: o.table3.form1Dir, form2: o.table3.form2Dir };
  // refuse a wrong set before any sampling: discrete, or the other formulation
  for (const form of TABLE3_FORMS) checkTable3Set(await readManifest(dirs[form]), form, `--${form}-dir`);
  const plan = table3Plan(o.table3.rows);
  const t0 = performance.now();
  const measured: { form: Table3Form; row: string; fid: number }[] = [];
  // test-set statistics per classifier file (the sets share one today; a set with its own gets its own statistics)
  const testStats = new Map<string, FeatureStats>();
  let test: Awaited<ReturnType<typeof loadFashionMnist>> | undefined;
  for (const form of TABLE3_FORMS) {
    if (!plan.some((p) => p.form === form)) continue;
    const models = await ModelSet.load(dirs[form], undefined, { refinerInstances: o.refinerInstances });
    try {
      checkTable3Set(models.manifest, form, `--${form}-dir`);
      ctx.log(`${form}: model set ${models.manifest.name} from ${models.dir} (Formulation ${formulationOf(form)}, ${models.noiseConditioning} noise conditioning)`);
      for (const { row } of plan.filter((p) => p.form === form)) {
        const sampler = rowSettings(row, models.manifest);
        const at = { samples: o.samples, seed: o.seed, refinerSha256: models.checksums.refiner!, sampler };
        const doc = (await readJson<Json>(jsonFile)) ?? {};
        const kept = findCell(doc.table3, form, row.key, at);
        if (kept) {
          ctx.log(`${form} ${row.key}: kept, FID ${kept.fid.toFixed(3)} (${kept.samples} samples, ${kept.measuredAt})`);
          continue;
        }
        if (o.table3.budgetMin !== undefined && performance.now() - t0 > o.table3.budgetMin * 60_000) {
          ctx.log(`budget of ${o.table3.budgetMin} min spent: not starting ${form} ${row.key}`);
          continue;
        }
        const classifier = models.checksums.classifier!;
        if (!testStats.has(classifier)) {
          test ??= await loadFashionMnist('test');
          testStats.set(classifier, await statsOf(models, toModel(test.images)));
          ctx.log(`test-set features: ${test.images.batch} images (classifier ${classifier.slice(0, 12)}…)`);
        }
        const key = `table3-${form}-${row.key}`;
        const label = `Table 3, ${form === 'form1' ? 'Form-1' : 'Form-2'}, ${rowLabel(row)}`;
        const r = await runPlan(models, { key, label, samples: o.samples, sampler }, { seed: o.seed, batch: o.batch, log: ctx.log });
        const f = fid(await statsOf(models, r.images), testStats.get(classifier)!);
        const cell: Table3Cell = {
          fid: f,
          samples: o.samples,
          seed: o.seed,
          refinerSha256: at.refinerSha256,
          modelName: models.manifest.name,
          sampler,
          measuredAt: new Date().toISOString(),
        };
        // re-read: another process may have written meanwhile; only this cell changes
        const now = (await readJson<Json>(jsonFile)) ?? {};
        await writeJsonAtomic(jsonFile, { ...now, table3: mergeCell(now.table3, form, row.key, cell) });
        measured.push({ form, row: row.key, fid: f });
        ctx.log(`${form} ${row.key}: FID ${f.toFixed(3)} (${o.samples} samples, ${(r.seconds / 60).toFixed(1)} min)`);
      }
    } finally {
      await models.release();
    }
  }
  const results = ((await readJson<Json>(jsonFile)) ?? {}).table3 ?? {};
  const files = [jsonFile, path.join(ctx.root, 'docs/results/eval.json')];
  const baseline = await baselineFrom(ctx.root, files, discreteBaseline);
  const ddim10 = await baselineFrom(ctx.root, files, ddim10Baseline);
  // the discrete set's DDIM rows (this eval.json, else the committed one), then each continuous set's (<out>/eval-<set>/)
  const setRows: SetRows[] = [];
  for (const f of files) {
    const rows = ddimRowsOf((await readJson<Json>(f)) ?? {}, path.relative(ctx.root, f));
    if (rows) {
      setRows.push(rows);
      break;
    }
  }
  for (const form of TABLE3_FORMS) {
    const name = (await readManifest(dirs[form])).name;
    const f = path.join(o.outDir, `eval-${name}`, 'results', 'eval.json');
    const rows = ddimRowsOf((await readJson<Json>(f)) ?? {}, path.relative(ctx.root, f));
    if (rows) setRows.push(rows);
  }
  const page = await writeTable3Page(
    o.outDir,
    table3Markdown({ results, ...(baseline ? { baseline } : {}), ...(ddim10 ? { ddim10 } : {}), setRows, command: 'npm run eval -- --table3' }),
  );
  const claim = table3Claim(results);
  ctx.log(`wrote ${page} (Table 3 section) and ${jsonFile}; the paper's claim: ${claim.verdict} (${claim.complete} of 8 cells at ≥ 5,000 samples)`);
  return { results, measured };
}
