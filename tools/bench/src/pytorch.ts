/**
 * (c) The PyTorch eager loop with the trainer's model: `tools/train/train.sh sample`, what a user of the
 * reference code runs. Its weights are the model set's (the ONNX files loaded back into the trainer's networks,
 * so the three paths run the same network on a fresh clone) or, with --ckpt-dir, the trainer's checkpoints.
 * Without PyTorch this part is skipped with the reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { watchPeakRss } from './proc.js';

/** One run's loop time and the process's peak RSS, or why it could not run. */
export type PytorchRun = { ms: number; peakRssMb: number } | { skipped: string };

/** Why the PyTorch loop cannot run here, or undefined when it can. */
export function pytorchUnavailable(root: string, o: { pytorch: boolean; ckptDir: string | undefined }, python = process.env.PYTHON || '/usr/bin/python3'): string | undefined {
  if (!o.pytorch) return 'skipped (--no-pytorch)';
  const missing = o.ckptDir ? ['vae.pt', 'refiner.pt'].filter((f) => !existsSync(path.join(o.ckptDir!, f))) : [];
  if (missing.length > 0) {
    return `no trainer checkpoint (${missing.join(', ')}) in ${o.ckptDir}: leave --ckpt-dir out to use the model set's weights (the bench does not train)`;
  }
  // train.sh installs what is missing first; the bench must not, so it checks what train.sh checks
  const probe = spawnSync(python, ['-c', 'import torch, numpy, onnx'], { cwd: path.join(root, 'tools/train'), stdio: 'ignore' });
  if (probe.status !== 0) return `PyTorch is not importable by ${python} (run tools/train/setup.sh, or set PYTHON)`;
  if (!existsSync('/usr/share/datasets/fashion-mnist')) return 'the trainer would install its dataset first (run tools/train/setup.sh)';
  return undefined;
}

const LINE = /(\d+) samples x (\d+) steps in [\d.]+s: ([\d.]+) image-steps\/s/;

/** One `sample` process: its loop time is what it prints (model loading excluded). */
export async function pytorchOnce(o: { root: string; ckptDir: string | undefined; modelDir: string; batch: number; steps: number; sampler: string; threads: number; seed: number }): Promise<PytorchRun> {
  const args = ['tools/train/train.sh', 'sample', '--count', String(o.batch), '--steps', String(o.steps), '--sampler', o.sampler.toLowerCase()];
  args.push(...(o.ckptDir ? ['--ckpt-dir', path.resolve(o.ckptDir)] : ['--model-dir', path.resolve(o.modelDir)]));
  args.push('--threads', String(o.threads), '--seed', String(o.seed));
  const child = spawn('bash', args, { cwd: o.root, stdio: ['ignore', 'pipe', 'pipe'] });
  const rss = watchPeakRss(child.pid!);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const peakRssMb = rss.stop();
  const m = out.match(LINE);
  if (code !== 0 || !m) return { skipped: `train.sh sample failed (exit ${code}): ${out.trim().split('\n').slice(-3).join(' | ')}` };
  // the rate has more digits than the printed seconds
  return { ms: (o.batch * o.steps * 1000) / Number(m[3]), peakRssMb };
}
