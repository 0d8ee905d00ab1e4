import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../src/index.js';

const TEXT = `# HELP x_total Things.
# TYPE x_total counter
x_total{a="1",b="q\\"uote"} 3
x_total{a="2"} 4
# HELP h Seconds.
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.35
h_count 2
# a comment
# TYPE g gauge
g NaN
`;

describe('parsePrometheusText', () => {
  it('reads families, their types and help, and samples with labels (escapes too)', () => {
    const f = parsePrometheusText(TEXT);
    expect([...f.keys()]).toEqual(['x_total', 'h', 'g']);
    expect(f.get('x_total')).toMatchObject({ type: 'counter', help: 'Things.' });
    expect(f.get('x_total')!.samples[0]).toEqual({ name: 'x_total', labels: { a: '1', b: 'q"uote' }, value: 3 });
    expect(f.get('h')!.samples.map((s) => s.name)).toEqual(['h_bucket', 'h_bucket', 'h_sum', 'h_count']);
    expect(sampleValue(f, 'h_bucket', { le: '+Inf' })).toBe(2);
    expect(sampleValue(f, 'h_count')).toBe(2);
    expect(sampleValue(f, 'x_total', { a: '2' })).toBe(4);
    expect(sampleValue(f, 'x_total', { a: '3' })).toBeUndefined();
    expect(sampleValue(f, 'g')).toBeNaN();
  });

  it.each([
    ['a sample without a # TYPE', 'y 1'],
    ['a bad value', '# TYPE y gauge\ny one'],
    ['bad labels', '# TYPE y gauge\ny{a=1} 1'],
    ['an unknown type', '# TYPE y meter'],
    ['a _bucket of a counter', '# TYPE y counter\ny_bucket 1'],
  ])('refuses %s', (_, text) => {
    expect(() => parsePrometheusText(text)).toThrow(/prometheus text/);
  });
});
