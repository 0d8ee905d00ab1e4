/**
 * The int8 (QDQ) refiner against the fp32 one, with onnxruntime-node directly:
 *  (a) it loads, and its ε on real inputs (stage-1 images from decoder.onnx, noised to x_t at several t) against fp32;
 *  (b) ms/run of fp32 and int8 at batch 64 and 1 (graphOptimizationLevel 'all', 2 intra-op threads, alternating
 *      repetitions, median);
 *  (c) per-operator time of the int8 model from onnxruntime's profiler (is QLinearConv fused, where does time go).
 *
 *   npx tsx tools/bench/src/int8-check.ts [--model-dir models/fmnist] [--int8 refiner-int8.onnx] [--reps 15]
 *       [--batches 64,1] [--skip accuracy,speed,profile,fp32-profile] [--profile-dir DIR] [--top 12]
 *       [--config session.qdqisint8allowed=1 ...]  (session config entries, e.g. session.x64quantprecision=1,
 *                                                    optimization.disable_specified_optimizers=NhwcTransformer)
 *       [--pause]  (SIGSTOP the background `diffusevae train` processes while timing/profiling; SIGCONT after)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return (i >= 0 ? argv[i + 1] : undefined) ?? dflt;
};
const all = (name: string) => argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
const modelDir = resolve(flag('model-dir', 'models/fmnist'));
const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8'));
const fp32File = join(modelDir, manifest.files.refiner.path);
const int8File = resolve(modelDir, flag('int8', manifest.files.refinerInt8?.path ?? 'refiner-int8.onnx'));
const reps = Number(flag('reps', '15'));
const batches = flag('batches', '64,1').split(',').map(Number);
const skip = new Set(flag('skip', '').split(','));
const pause = argv.includes('--pause');

/** --config a.b=c -> extra { a: { b: 'c' } } (onnxruntime-node flattens it into session config entries) */
function extraConfig(entries: string[]) {
  const extra: Record<string, unknown> = {};
  for (const e of entries) {
    const [key = '', value = ''] = e.split('=');
    const parts = key.split('.');
    let o = extra as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
    o[parts[parts.length - 1]!] = value;
  }
  return extra;
}
const extra = extraConfig(all('config'));
const baseOptions: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  executionMode: 'sequential',
};
const open = (file: string, more: ort.InferenceSession.SessionOptions = {}) =>
  ort.InferenceSession.create(readFileSync(file), { ...baseOptions, ...more, extra: { ...extra, ...(more.extra ?? {}) } });

// ---------------------------------------------------------------- inputs: stage-1 images, noised at t
function rng(seed: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}
const { numTrainTimesteps: T, betaStart, betaEnd } = manifest.schedule;
const alphaBar: number[] = [];
for (let i = 0, ab = 1; i < T; i++) alphaBar.push((ab *= 1 - (betaStart + ((betaEnd - betaStart) * i) / (T - 1))));
const res = manifest.image.resolution as number;
const item = manifest.image.channels * res * res;
const shape = (b: number) => [b, manifest.image.channels, res, res];

async function stage1(decoder: ort.InferenceSession, batch: number, seed: number) {
  const g = rng(seed);
  const zd = manifest.latent.dim as number;
  const z = new ort.Tensor('float32', Float32Array.from({ length: batch * zd }, g), [batch, zd]);
  const out = await decoder.run({ z });
  return out[decoder.outputNames[0]!]!.data as Float32Array;
}
function feeds(cond: Float32Array, batch: number, t: number | number[], seed: number) {
  const g = rng(seed);
  const ts = typeof t === 'number' ? Array(batch).fill(t) : t;
  const x = new Float32Array(batch * item);
  for (let b = 0; b < batch; b++) {
    const ab = alphaBar[ts[b]!]!;
    for (let i = b * item; i < (b + 1) * item; i++) x[i] = Math.sqrt(ab) * cond[i]! + Math.sqrt(1 - ab) * g();
  }
  return {
    x_t: new ort.Tensor('float32', x, shape(batch)),
    t: new ort.Tensor('int64', BigInt64Array.from(ts.map(BigInt)), [batch]),
    cond: new ort.Tensor('float32', cond.slice(0, batch * item), shape(batch)),
  };
}
const eps = async (s: ort.InferenceSession, f: Record<string, ort.Tensor>) => (await s.run(f)).eps!.data as Float32Array;

// ---------------------------------------------------------------- trainers: paused only while timing
const trainers = () => {
  try {
    // no shell: pgrep leaves itself out, and a shell's own command line would match the pattern
    return execFileSync('pgrep', ['-f', 'diffusevae train'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
let paused: number[] = [];
const resumeTrainers = () => {
  for (const pid of paused) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  paused = [];
};
process.on('exit', resumeTrainers);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (resumeTrainers(), process.exit(130)));
function pauseTrainers() {
  if (!pause) return;
  for (const pid of trainers()) {
    try {
      process.kill(pid, 'SIGSTOP');
      paused.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const fmt = (v: number, d = 2) => v.toFixed(d);

async function main() {
  console.log(`fp32 ${fp32File} (${(statSync(fp32File).size / 1e6).toFixed(2)} MB)`);
  console.log(`int8 ${int8File} (${(statSync(int8File).size / 1e6).toFixed(2)} MB)`);
  if (Object.keys(extra).length) console.log('session config', JSON.stringify(extra));
  const decoder = await ort.InferenceSession.create(readFileSync(join(modelDir, manifest.files.decoder.path)));
  const fp32 = await open(fp32File);
  const int8 = await open(int8File);
  const cond64 = await stage1(decoder, Math.max(64, ...batches), 7);

  // (a) accuracy
  if (!skip.has('accuracy')) {
    console.log('\n(a) eps int8 vs fp32, 64 stage-1 images noised to x_t (RMS/max relative to the fp32 eps RMS)');
    console.log('   t   eps RMS   RMS diff   rel RMS   max abs   max/RMS   x0 RMS diff (= RMS diff * sqrt((1-ab)/ab))');
    let num = 0;
    let den = 0;
    for (const t of [999, 900, 750, 500, 250, 100, 50, 10, 0]) {
      const f = feeds(cond64, 64, t, 100 + t);
      const [a, b] = [await eps(fp32, f), await eps(int8, f)];
      let ss = 0;
      let sd = 0;
      let mx = 0;
      for (let i = 0; i < a.length; i++) {
        const d = a[i]! - b[i]!;
        ss += a[i]! * a[i]!;
        sd += d * d;
        mx = Math.max(mx, Math.abs(d));
      }
      num += sd;
      den += ss;
      const rms = Math.sqrt(ss / a.length);
      const drms = Math.sqrt(sd / a.length);
      console.log(`${String(t).padStart(4)}  ${fmt(rms, 4).padStart(8)}  ${fmt(drms, 4).padStart(9)}  ${fmt((100 * drms) / rms, 2).padStart(7)}%  ${fmt(mx, 4).padStart(8)}  ${fmt(mx / rms, 3).padStart(8)}  ${fmt(drms * Math.sqrt((1 - alphaBar[t]!) / alphaBar[t]!), 5).padStart(10)}`);
    }
    console.log(`all t: rel RMS ${fmt(100 * Math.sqrt(num / den), 2)}%`);
  }

  // (b) speed
  if (!skip.has('speed')) {
    console.log(`\n(b) ms/run, median of ${reps} alternating repetitions (graphOptimizationLevel all, 2 intra-op threads)` +
      (pause ? '; background trainers paused' : '; trainers NOT paused (use --pause)'));
    const gflop = manifest.refiner.gflopPerImageStep as number;
    for (const batch of batches) {
      const f = feeds(cond64, batch, Array.from({ length: batch }, (_, i) => (i * 97) % T), 3); // a spread of t
      const n = batch === 1 ? reps * 5 : reps;
      const times = { fp32: [] as number[], int8: [] as number[] };
      pauseTrainers();
      try {
        for (let w = 0; w < 3; w++) {
          await fp32.run(f);
          await int8.run(f);
        }
        for (let r = 0; r < n; r++) {
          for (const [name, s] of (r % 2 ? [['int8', int8], ['fp32', fp32]] : [['fp32', fp32], ['int8', int8]]) as ['fp32' | 'int8', ort.InferenceSession][]) {
            const t0 = performance.now();
            await s.run(f);
            times[name].push(performance.now() - t0);
          }
        }
      } finally {
        resumeTrainers();
      }
      const m32 = median(times.fp32);
      const m8 = median(times.int8);
      for (const [name, m] of [['fp32', m32], ['int8', m8]] as const)
        console.log(`batch ${String(batch).padStart(2)} ${name}: ${fmt(m).padStart(8)} ms/run  ${fmt((batch * 1000) / m, 1).padStart(8)} image-steps/s  ${fmt((gflop * batch) / (m / 1000), 1).padStart(6)} GFLOP/s`);
      console.log(`batch ${String(batch).padStart(2)} int8 speed-up: ${fmt(m32 / m8, 3)}x`);
    }
  }

  // (c) per-operator profile
  if (!skip.has('profile')) {
    const dir = resolve(flag('profile-dir', join(tmpdir(), 'int8-profile')));
    mkdirSync(dir, { recursive: true });
    const batch = Number(flag('profile-batch', '64'));
    const runs = Number(flag('profile-runs', '5'));
    const f = feeds(cond64, batch, 500, 5);
    for (const [name, file] of [['int8', int8File], ...(skip.has('fp32-profile') ? [] : [['fp32', fp32File]])] as const) {
      const prefix = join(dir, `${name}-${Date.now()}`);
      const s = await open(file, { enableProfiling: true, profileFilePrefix: prefix });
      pauseTrainers();
      try {
        for (let r = 0; r < runs + 1; r++) await s.run(f);
      } finally {
        resumeTrainers();
      }
      s.endProfiling();
      await s.release();
      const base = prefix.split('/').pop()!;
      const trace = readdirSync(dir).filter((n) => n.startsWith(base) && n.endsWith('.json')).sort().pop();
      if (!trace) throw new Error(`no profile written under ${prefix}`);
      type Ev = { cat: string; name: string; ts: number; dur: number; args: { op_name?: string } };
      const events: Ev[] = JSON.parse(readFileSync(join(dir, trace), 'utf8'));
      const runsTs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.ts).sort((a, b) => a - b);
      const after = runsTs[1] ?? 0; // the first run is warm-up
      const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= after);
      const byOp = new Map<string, { us: number; n: number }>();
      let total = 0;
      for (const e of nodes) {
        const k = e.args.op_name ?? '?';
        const o = byOp.get(k) ?? { us: 0, n: 0 };
        o.us += e.dur;
        o.n += 1;
        byOp.set(k, o);
        total += e.dur;
      }
      const nRuns = runsTs.length - 1;
      console.log(`\n(c) ${name} per-operator kernel time, batch ${batch}, mean of ${nRuns} runs (${trace})`);
      console.log('op                          ms/run      %   nodes');
      for (const [k, o] of [...byOp].sort((a, b) => b[1].us - a[1].us))
        console.log(`${k.padEnd(26)} ${fmt(o.us / nRuns / 1000).padStart(8)}  ${fmt((100 * o.us) / total, 1).padStart(5)}  ${String(o.n / nRuns).padStart(6)}`);
      console.log(`${'total'.padEnd(26)} ${fmt(total / nRuns / 1000).padStart(8)}`);
      const byNode = new Map<string, { us: number; op: string }>();
      for (const e of nodes) {
        const k = e.name.replace(/_kernel_time$/, '');
        const o = byNode.get(k) ?? { us: 0, op: e.args.op_name ?? '?' };
        o.us += e.dur;
        byNode.set(k, o);
      }
      const top = Number(flag('top', '12'));
      console.log(`top ${top} nodes:`);
      for (const [k, o] of [...byNode].sort((a, b) => b[1].us - a[1].us).slice(0, top))
        console.log(`  ${fmt(o.us / nRuns / 1000).padStart(8)} ms  ${o.op.padEnd(16)} ${k}`);
    }
  }
}

main().then(
  () => resumeTrainers(),
  (e) => {
    resumeTrainers();
    console.error(e);
    process.exit(1);
  },
);
