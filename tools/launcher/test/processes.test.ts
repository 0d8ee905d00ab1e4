import { describe, expect, it } from 'vitest';
import { Supervisor, type ProcessSpec } from '../src/processes.js';

const node = (label: string, script: string, tier = 1): ProcessSpec => ({ label, command: process.execPath, args: ['-e', script], env: process.env, cwd: process.cwd(), tier });

function supervisor() {
  const lines: string[] = [];
  const exits: string[] = [];
  const sup = new Supervisor((l) => lines.push(l), (label, code) => exits.push(`${label}:${code}`), false);
  return { sup, lines, exits };
}

describe('Supervisor', () => {
  it('prefixes output, waits for a readiness line, and reports a child that dies on its own', async () => {
    const { sup, lines, exits } = supervisor();
    const p = sup.start(node('svc#1', `console.log('loading'); setTimeout(() => { console.log('[svc] ready on x'); setTimeout(() => process.exit(3), 50); }, 50)`));
    const m = await p.waitFor(/ready on (\S+)/, 5000);
    expect(m[1]).toBe('x');
    await new Promise((r) => p.child.once('exit', r));
    expect(lines[0]).toMatch(/^svc#1 +│ loading$/);
    expect(exits).toEqual(['svc#1:3']);
  });

  it('rejects a wait when the child exits first, naming it', async () => {
    const { sup } = supervisor();
    const p = sup.start(node('broken', `console.error('no model'); process.exit(1)`));
    await expect(p.waitFor(/ready/, 5000)).rejects.toThrow('broken exited (code 1) before it was ready');
  });

  it('stops higher tiers first, and kills what ignores SIGTERM after the grace period', async () => {
    const { sup, lines, exits } = supervisor();
    const order: string[] = [];
    const stubborn = sup.start(node('stubborn', `process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)`, 2));
    const polite = sup.start(node('polite', `process.on('SIGTERM', () => process.exit(0)); console.log('up'); setInterval(() => {}, 1000)`, 1));
    await Promise.all([stubborn.waitFor(/up/, 5000), polite.waitFor(/up/, 5000)]);
    stubborn.child.once('exit', () => order.push('stubborn'));
    polite.child.once('exit', () => order.push('polite'));
    await sup.stopAll(300);
    expect(order).toEqual(['stubborn', 'polite']);
    expect(stubborn.child.signalCode).toBe('SIGKILL');
    expect(lines.join('\n')).toContain('stubborn did not stop within 300 ms; killing it');
    expect(exits).toEqual([]);
    expect(sup.running).toEqual([]);
  });
});
