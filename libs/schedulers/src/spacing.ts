import { SchedulerError } from './schedule.js';

/**
 * Which training timesteps a few-step sampler visits (Nichol & Dhariwal 2021 §4 respacing; DDIM §5;
 * "Common Diffusion Noise Schedules and Sample Steps are Flawed", Lin et al. 2024, Table 2).
 */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace' | 'quad';
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace', 'quad'];

/** numpy's round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `n` distinct timesteps in [0, T), in sampling order (descending), optionally capped at `maxTimestep`
 * (a reverse process that starts part-way, as denoising does: the schedule is laid over [0, maxTimestep]).
 */
export function spacedTimesteps(T: number, n: number, spacing: TimestepSpacing, maxTimestep = T - 1): number[] {
  if (!TIMESTEP_SPACINGS.includes(spacing)) {
    throw new SchedulerError('timestepSpacing', `must be one of ${TIMESTEP_SPACINGS.join(', ')}, got ${String(spacing)}`);
  }
  if (!Number.isInteger(maxTimestep) || maxTimestep < 0 || maxTimestep >= T) {
    throw new SchedulerError('startTimestep', `must be an integer in [0, ${T - 1}], got ${maxTimestep}`);
  }
  const span = maxTimestep + 1; // timesteps available: 0 … maxTimestep
  if (!Number.isInteger(n) || n < 1 || n > span) {
    throw new SchedulerError('steps', `must be an integer in [1, ${span}] (the timesteps available), got ${n}`);
  }
  let ts: number[];
  switch (spacing) {
    case 'leading': {
      // DDIM's uniform skip: 0, k, 2k, …  with k = ⌊span / n⌋
      const k = Math.floor(span / n);
      ts = Array.from({ length: n }, (_, i) => i * k);
      break;
    }
    case 'trailing': {
      // round(arange(span, 0, −span/n)) − 1: always includes the last timestep
      const k = span / n;
      ts = Array.from({ length: n }, (_, i) => roundHalfEven(span - i * k) - 1);
      break;
    }
    case 'linspace': {
      const k = n === 1 ? 0 : (span - 1) / (n - 1);
      ts = Array.from({ length: n }, (_, i) => roundHalfEven(i === n - 1 && n > 1 ? span - 1 : i * k));
      break;
    }
    case 'quad': {
      // DDIM's quadratic skip: (linspace(0, √(0.8·span), n))², truncated. Its low end repeats timesteps
      // once n is large (0, 0, 1, 3, … at n = 50); each repeat moves up by one so n steps stay n steps.
      const end = Math.sqrt(span * 0.8);
      const k = n === 1 ? 0 : end / (n - 1);
      ts = Array.from({ length: n }, (_, i) => Math.floor((i === n - 1 && n > 1 ? end : i * k) ** 2));
      // (ts[i] ≥ i and the curve ends at 0.8·span, so they never pass maxTimestep)
      for (let i = 1; i < n; i++) ts[i] = Math.max(ts[i]!, ts[i - 1]! + 1);
      break;
    }
    default: {
      const never: never = spacing;
      throw new Error(`unreachable spacing ${String(never)}`);
    }
  }
  ts.sort((a, b) => b - a);
  for (let i = 1; i < ts.length; i++) {
    if (ts[i] === ts[i - 1]) {
      throw new SchedulerError('steps', `${n} steps with "${spacing}" spacing repeat timestep ${ts[i]}; use fewer steps or another spacing`);
    }
  }
  return ts;
}
