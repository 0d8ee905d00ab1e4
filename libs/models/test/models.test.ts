import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '@diffusevae/tensor';
import { DEFAULT_MODEL_DIR, ModelError, ModelSet, readManifest } from '../src/index.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'diffusevae-models-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function copySet(name: string): string {
  const dir = path.join(tmp, name);
  cpSync(DEFAULT_MODEL_DIR, dir, { recursive: true });
  return dir;
}

describe('ModelSet', () => {
  it('loads the default set and reads input names and dtypes from the sessions', async () => {
    const set = await ModelSet.load(DEFAULT_MODEL_DIR, ['decoder', 'refiner']);
    try {
      const [c, h, w] = set.imageShape;
      const z = new Tensor(new Float32Array(3 * set.manifest.latent.dim), [3, set.manifest.latent.dim]);
      const xHat = await set.decode(z);
      expect(xHat.shape).toEqual([3, c, h, w]);
      for (const v of xHat.data) expect(Math.abs(v)).toBeLessThanOrEqual(1);
      const eps = await set.eps(xHat, [0, 500, 999], xHat);
      expect(eps.shape).toEqual(xHat.shape);
      await expect(set.encode(xHat)).rejects.toThrow(/encoder model was not loaded/);
    } finally {
      await set.release();
    }
  });

  it('takes the spinning setting of the intra-op threads', async () => {
    const set = await ModelSet.load(DEFAULT_MODEL_DIR, ['refiner'], { intraOpThreads: 2, allowSpinning: false });
    try {
      const x = new Tensor(new Float32Array(2 * set.itemSize), [2, ...set.imageShape]);
      expect((await set.eps(x, [1, 2], x)).shape).toEqual(x.shape);
    } finally {
      await set.release();
    }
  });

  it('refuses a model file whose sha256 does not match, naming the file', async () => {
    const dir = copySet('tampered');
    const manifest = await readManifest(dir);
    const file = path.join(dir, manifest.files.refiner.path);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(file, bytes);
    const err = await ModelSet.load(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe('MODEL_CHECKSUM_MISMATCH');
    expect((err as ModelError).message).toContain(file);
    expect((err as ModelError).message).toMatch(/^refiner model .*refiner\.onnx: sha256 [0-9a-f]{64} does not match the manifest's/);
  });

  it('names the missing file, a bad manifest and a path that leaves the folder', async () => {
    const dir = copySet('broken');
    rmSync(path.join(dir, 'decoder.onnx'));
    await expect(ModelSet.load(dir, ['decoder'])).rejects.toThrow(/decoder model .*decoder\.onnx: file not found/);
    await expect(readManifest(path.join(tmp, 'nowhere'))).rejects.toThrow(/no model manifest here/);
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, files: { ...m.files, encoder: { ...m.files.encoder, path: '../x.onnx' } } }));
    await expect(readManifest(dir)).rejects.toThrow(/files\.encoder\.path must stay inside the model folder/);
    writeFileSync(path.join(dir, 'manifest.json'), '{not json');
    await expect(readManifest(dir)).rejects.toThrow(/not JSON/);
  });

  it('loads the int8 refiner when asked: its checksum is quoted, its ε close to fp32’s; a set without one says how to make it', async () => {
    const manifest = await readManifest(DEFAULT_MODEL_DIR);
    expect(manifest.files.refinerInt8, 'the committed set has an int8 refiner').toMatchObject({ precision: 'int8' });
    const [fp32, int8] = await Promise.all([
      ModelSet.load(DEFAULT_MODEL_DIR, ['decoder', 'refiner']),
      ModelSet.load(DEFAULT_MODEL_DIR, ['refiner'], { refinerPrecision: 'int8' }),
    ]);
    try {
      expect(int8.refinerPrecision).toBe('int8');
      expect(int8.checksums.refiner).toBe(manifest.files.refinerInt8!.sha256);
      expect(fp32.checksums.refiner).toBe(manifest.files.refiner.sha256);
      const z = new Tensor(Float32Array.from({ length: 4 * manifest.latent.dim }, (_, i) => Math.sin(i * 1.7)), [4, manifest.latent.dim]);
      const cond = await fp32.decode(z);
      const xt = new Tensor(Float32Array.from(cond.data, (v, i) => 0.5 * v + 0.8 * Math.sin(i * 0.91)), cond.shape);
      const t = [999, 600, 200, 20];
      const [a, b] = [await fp32.eps(xt, t, cond), await int8.eps(xt, t, cond)];
      let err = 0;
      let ref = 0;
      for (let i = 0; i < a.data.length; i++) {
        err += (a.data[i]! - b.data[i]!) ** 2;
        ref += a.data[i]! ** 2;
      }
      // the quantization error is a small fraction of ε itself (docs/int8.md has the measured numbers)
      expect(Math.sqrt(err / ref)).toBeLessThan(0.1);
      expect(Math.sqrt(err / ref)).toBeGreaterThan(0); // it is another network
    } finally {
      await Promise.all([fp32.release(), int8.release()]);
    }
    const dir = copySet('no-int8');
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    delete m.files.refinerInt8;
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const err = await ModelSet.load(dir, ['refiner'], { refinerPrecision: 'int8' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MODEL_FILE_MISSING' });
    expect((err as Error).message).toMatch(/model set fmnist has no int8 refiner \(files\.refinerInt8\): make one with `npm run train -- quantize --model-dir <dir>`/);
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, files: { ...m.files, refinerInt8: { ...m.files.refiner, precision: 'fp16' } } }));
    await expect(readManifest(dir)).rejects.toThrow(/files\.refinerInt8\.precision must be "int8", got "fp16"/);
  });
});
