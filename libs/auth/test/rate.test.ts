import { describe, expect, it } from 'vitest';
import { RateLimiter, TokenBucket } from '../src/index.js';

describe('TokenBucket', () => {
  it('allows a minute’s burst, then the steady rate, and says when to come back', () => {
    const b = new TokenBucket(60, 0);
    for (let i = 0; i < 60; i++) expect(b.take(1, 0)).toBe(0);
    expect(b.take(1, 0)).toBe(1000); // one token a second
    expect(b.take(1, 500)).toBe(500);
    expect(b.take(1, 1000)).toBe(0);
    expect(b.take(3, 1000)).toBe(3000);
  });

  it('never fits more than a minute’s worth', () => {
    expect(new TokenBucket(100, 0).take(101, 0)).toBe(Infinity);
  });

  it('gives back', () => {
    const b = new TokenBucket(10, 0);
    expect(b.take(10, 0)).toBe(0);
    b.give(4);
    expect(b.take(4, 0)).toBe(0);
  });
});

describe('RateLimiter', () => {
  it('keeps keys apart', () => {
    let now = 0;
    const r = new RateLimiter(() => now);
    expect(r.take('a', 2)).toBe(0);
    expect(r.take('a', 2)).toBe(0);
    expect(r.take('a', 2)).toBeGreaterThan(0);
    expect(r.take('b', 2)).toBe(0);
    now = 30_000;
    expect(r.take('a', 2)).toBe(0);
  });
});
