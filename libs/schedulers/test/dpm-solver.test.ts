import { describe, expect, it } from 'vitest';
import { DdimScheduler, DpmSolverScheduler, createScheduler, DEFAULT_SAMPLER } from '../src/index.js';

const n = 16;
const sample = Float32Array.from({ length: n }, (_, j) => Math.sin(j * 0.9) * 1.3);
const eps = Float32Array.from({ length: n }, (_, j) => Math.cos(j * 0.4) * 0.8);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j]!)), 0);

describe('DPM-Solver++(2M)', () => {
  it('its first step (no history yet) is DDIM with η = 0: the first-order solver is DDIM', () => {
    for (const spacing of ['leading', 'trailing', 'linspace'] as const) {
      const dpm = new DpmSolverScheduler({ clipSample: false }).setTimesteps(10, { timestepSpacing: spacing });
      const ddim = new DdimScheduler({ clipSample: false }).setTimesteps(10, { timestepSpacing: spacing, eta: 0 });
      expect(maxDiff(dpm.step(eps, 0, sample).prevSample, ddim.step(eps, 0, sample).prevSample), spacing).toBeLessThan(1e-5);
    }
  });

  it('with the exact ε of a one-point data distribution it lands on that point, ODE and SDE, at any step count', () => {
    const target = Float32Array.from({ length: n }, (_, j) => ((j % 5) - 2) / 2.5);
    for (const sde of [false, true]) {
      for (const steps of [3, 10, 25]) {
        const s = new DpmSolverScheduler({ clipSample: false }, { sde }).setTimesteps(steps, { timestepSpacing: 'trailing' });
        let x: Float32Array = Float32Array.from(sample);
        s.timesteps.forEach((_, i) => {
          const ab = s.alphaBar[i]!;
          // x_t = √ᾱ x* + √(1−ᾱ) ε  ⇒  ε = (x_t − √ᾱ x*) / √(1−ᾱ)
          const e = Float32Array.from(x, (v, j) => (v - Math.sqrt(ab) * target[j]!) / Math.sqrt(1 - ab));
          x = s.step(e, i, x, s.addsNoise(i) ? Float32Array.from({ length: n }, (_, j) => Math.sin(j + i)) : undefined).prevSample;
        });
        expect(maxDiff(x, target), `${sde ? 'SDE' : 'ODE'} ${steps}`).toBeLessThan(1e-5);
      }
    }
  });

  it('the second step uses the first one’s x̂_0: it differs from a first-order step, and from a solver without history', () => {
    const a = new DpmSolverScheduler({ clipSample: false }).setTimesteps(10, { timestepSpacing: 'trailing' });
    const x1 = a.step(eps, 0, sample).prevSample;
    const eps2 = Float32Array.from(eps, (v, j) => v * 0.5 + 0.1 * Math.sin(j));
    const second = a.step(eps2, 1, x1).prevSample;
    const fresh = new DpmSolverScheduler({ clipSample: false }).setTimesteps(10, { timestepSpacing: 'trailing' });
    fresh.history = { x0: null };
    expect(maxDiff(second, fresh.step(eps2, 1, x1).prevSample)).toBeGreaterThan(1e-4);
    // restoring the history gives the same bytes
    const restored = new DpmSolverScheduler({ clipSample: false }).setTimesteps(10, { timestepSpacing: 'trailing' });
    restored.step(eps, 0, sample);
    const h = restored.history;
    const again = new DpmSolverScheduler({ clipSample: false }).setTimesteps(10, { timestepSpacing: 'trailing' });
    again.history = h;
    expect(Buffer.from(again.step(eps2, 1, x1).prevSample.buffer).equals(Buffer.from(second.buffer))).toBe(true);
  });

  it('the SDE adds noise on every step but the last, and needs it; the ODE never does', () => {
    const sde = createScheduler({ ...DEFAULT_SAMPLER, kind: 'DPMPP_2M_SDE', steps: 5, timestepSpacing: 'trailing' }) as DpmSolverScheduler;
    expect([0, 1, 2, 3, 4].map((i) => sde.addsNoise(i))).toEqual([true, true, true, true, false]);
    expect(() => sde.step(eps, 0, sample)).toThrow(/noise: is required/);
    const ode = createScheduler({ ...DEFAULT_SAMPLER, kind: 'DPMPP_2M', steps: 5 });
    expect([0, 1, 2, 3, 4].some((i) => ode.addsNoise(i))).toBe(false);
  });

  it('the last step returns x̂_0 (ᾱ after it is 1)', () => {
    const s = new DpmSolverScheduler({ clipSample: true }).setTimesteps(4, { timestepSpacing: 'trailing' });
    const out = s.step(eps, 3, sample);
    expect(Array.from(out.prevSample)).toEqual(Array.from(out.predOriginalSample));
  });

  it('createScheduler refuses an unknown kind, naming the choices', () => {
    expect(() => createScheduler({ ...DEFAULT_SAMPLER, kind: 'EULER' as never })).toThrow(/kind: must be one of DDPM, DDIM, DPMPP_2M, DPMPP_2M_SDE, got EULER/);
  });
});
