import { describe, expect, it } from 'vitest';
import { summarizeTrace } from '../src/profile.js';

describe('profile trace summary', () => {
  it('sums kernel time per operator and node over the last runs only, per run', () => {
    const run = (ts: number) => ({ cat: 'Session', name: 'model_run', ts, dur: 100 });
    const k = (ts: number, node: string, op: string, dur: number) => ({ cat: 'Node', name: `${node}_kernel_time`, ts, dur, args: { op_name: op } });
    const events = [
      run(0), k(10, 'conv1', 'Conv', 500), // warm-up: left out
      run(1000), k(1010, 'conv1', 'Conv', 60), k(1070, 'norm', 'InstanceNormalization', 20), k(1090, 'conv2', 'Conv', 20),
      run(2000), k(2010, 'conv1', 'Conv', 60), k(2070, 'norm', 'InstanceNormalization', 20), k(2090, 'conv2', 'Conv', 20),
      { cat: 'Node', name: 'conv1_fence_before', ts: 1005, dur: 3, args: { op_name: 'Conv' } },
    ];
    const s = summarizeTrace(events, 2);
    expect(s.msPerRun).toBeCloseTo(0.1);
    expect(s.ops).toEqual([
      { op: 'Conv', msPerRun: 0.08, share: 0.8 },
      { op: 'InstanceNormalization', msPerRun: 0.02, share: 0.2 },
    ]);
    expect(s.nodes.map((n) => [n.node, n.op, n.msPerRun])).toEqual([['conv1', 'Conv', 0.06], ['norm', 'InstanceNormalization', 0.02], ['conv2', 'Conv', 0.02]]);
  });
});
