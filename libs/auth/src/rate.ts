/**
 * Per-key rate limits as token buckets: a bucket holds up to `perMinute` tokens and refills at perMinute / 60 s,
 * so a key may burst its whole minute and then goes at the steady rate. `take` says how long to wait when the
 * tokens are not there (the Retry-After of a 429). Pure: the clock is a parameter.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly perMinute: number,
    now: number,
  ) {
    this.tokens = perMinute;
    this.at = now;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.at) * this.perMinute) / 60_000);
    this.at = Math.max(this.at, now);
  }

  /** Takes n tokens (0) or takes none and returns the ms until n are there (Infinity when n is over the bucket). */
  take(n: number, now: number): number {
    this.refill(now);
    if (n <= this.tokens) {
      this.tokens -= n;
      return 0;
    }
    if (n > this.perMinute) return Infinity;
    return Math.ceil(((n - this.tokens) * 60_000) / this.perMinute);
  }

  /** Gives back tokens taken for something that did not happen. */
  give(n: number): void {
    this.tokens = Math.min(this.perMinute, this.tokens + n);
  }
}

/** One bucket per (key, what) pair, made on first use; buckets of keys idle for over a minute are dropped. */
export class RateLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  constructor(private readonly clock: () => number = Date.now) {}

  take(key: string, perMinute: number, n = 1): number {
    const now = this.clock();
    let b = this.buckets.get(key);
    if (!b || b.bucket.perMinute !== perMinute) b = { bucket: new TokenBucket(perMinute, now), used: now };
    b.used = now;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.sweep(now);
    return b.bucket.take(n, now);
  }

  give(key: string, n: number): void {
    this.buckets.get(key)?.bucket.give(n);
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.used > 60_000) this.buckets.delete(k);
  }
}
