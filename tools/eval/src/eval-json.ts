/**
 * <out>/results/eval.json: read it, and write it atomically (a temporary file renamed over it), so that a run killed
 * mid-write never leaves a truncated file. Every writer re-reads the file right before writing and changes only its
 * own key: the points measured by --frontier and --table3 runs, and the full run's rows, live side by side.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function readJson<T extends object = Record<string, unknown>>(file: string): Promise<T | undefined> {
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}
