#!/usr/bin/env tsx
/**
 * npm run diffusevae -- generate | super-resolve | denoise | reconstruct (see args.ts). Submits the job with
 * `wait: false`, follows jobProgress over graphql-ws (a bar on stderr when it is a terminal, plain lines otherwise),
 * writes the PNGs. Ctrl-C cancels the job. Exit codes in exit.ts: 0 done, 1 other, 2 usage, 3 input refused, 4 key,
 * 5 job failed / unavailable / busy, 130 cancelled.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDevKey, stateDir } from '@diffusevae/service-kit';
import { commandUsage, MUTATIONS, mutationInput, parseCommand, USAGE, UsageError, type Command } from './args.js';
import { cancelJob, follow, submit, type Gateway, type Job } from './client.js';
import { CliFailure, EXIT, failureFromJob } from './exit.js';
import { decodePngs, gridPng, outDirFiles, progressBar, progressLine } from './output.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

let cmd: Command;
try {
  cmd = parseCommand(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  console.error(`diffusevae: ${e.message}\n\n${e.command ? commandUsage(e.command) : USAGE}`);
  process.exit(EXIT.usage);
}
if (cmd.kind === 'help') {
  console.log(cmd.command ? commandUsage(cmd.command) : USAGE);
  process.exit(EXIT.ok);
}
const job = cmd;

const key = job.key ?? (process.env.DIFFUSEVAE_KEY?.trim() || readDevKey(stateDir(ROOT)));
const gw: Gateway = { url: job.url, ...(key ? { key } : {}) };
const tty = process.stderr.isTTY === true;

function show(j: Job, lastLine: { text?: string }): void {
  const view = { status: j.status, ...(j.progress ? { step: j.progress.step, steps: j.progress.steps, etaMs: j.progress.etaMs ?? null } : {}), queuePosition: j.queuePosition ?? null };
  const text = tty ? progressBar(view) : progressLine(j.id, view);
  if (text === lastLine.text) return;
  lastLine.text = text;
  if (tty) process.stderr.write(`\r\x1b[2K${text}`);
  else process.stderr.write(`${text}\n`);
}

async function main(): Promise<number> {
  let image: string | undefined;
  if (job.kind !== 'generate') {
    try {
      image = (await readFile(job.input)).toString('base64');
    } catch (e) {
      throw new CliFailure(EXIT.usage, `${job.input}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const { field, input } = MUTATIONS[job.kind];
  const submitted = await submit(gw, field, input, mutationInput(job, image));
  if (!tty) process.stderr.write(`job ${submitted.id}: submitted (${submitted.status})\n`);

  // Ctrl-C: cancel the job, then exit 130 (a second Ctrl-C exits at once)
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(EXIT.interrupted);
    interrupted = true;
    if (tty) process.stderr.write('\n');
    process.stderr.write(`diffusevae: cancelling job ${submitted.id}…\n`);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const line: { text?: string } = {};
  let done: Job | undefined;
  try {
    done = await follow(gw, submitted.id, (j) => show(j, line), abort.signal);
  } catch (e) {
    if (!interrupted) throw e;
  } finally {
    if (tty && line.text) process.stderr.write('\n');
  }
  if (interrupted) {
    const c = await cancelJob(gw, submitted.id).catch((e: unknown) => {
      process.stderr.write(`diffusevae: could not cancel job ${submitted.id}: ${(e as Error).message}\n`);
      return undefined;
    });
    if (c) process.stderr.write(`diffusevae: job ${c.id} ${c.errorCode === 'CANCELLED' ? 'cancelled' : c.status.toLowerCase()}\n`);
    return EXIT.interrupted;
  }
  process.off('SIGINT', onSigint);
  if (!done) throw new CliFailure(EXIT.other, `job ${submitted.id}: no final state`);
  if (done.status !== 'SUCCEEDED') throw failureFromJob(done);

  const files: string[] = [];
  if (job.outDir) {
    await mkdir(job.outDir, { recursive: true });
    const names = outDirFiles(job.outDir, done.images.length);
    await Promise.all(done.images.map((im, i) => writeFile(names[i]!, Buffer.from(im.png, 'base64'))));
    files.push(...names);
  } else if (job.out) {
    const png = done.images.length === 1 ? Buffer.from(done.images[0]!.png, 'base64') : gridPng(await decodePngs(done.images.map((im) => im.png)));
    await mkdir(path.dirname(path.resolve(job.out)), { recursive: true });
    await writeFile(job.out, png);
    files.push(job.out);
  }
  if (job.json) {
    const { images, ...rest } = done;
    console.log(JSON.stringify({ ...rest, images: images.map(({ width, height }) => ({ width, height })), files }, null, 2));
  } else {
    const seed = (done.manifest as { seed?: unknown } | null)?.seed;
    process.stderr.write(`job ${done.id}: ${done.images.length} image(s)${seed !== undefined ? `, seed ${String(seed)}` : ''} → ${files.join(', ')}\n`);
  }
  return EXIT.ok;
}

let code: number;
try {
  code = await main();
} catch (e) {
  if (e instanceof CliFailure) {
    console.error(`diffusevae: ${e.message}`);
    code = e.exitCode;
  } else {
    console.error(`diffusevae: ${(e as Error).stack ?? String(e)}`);
    code = EXIT.other;
  }
}
process.exit(code);
