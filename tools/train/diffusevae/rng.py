"""Philox4x32-10 normals, the numpy twin of libs/rng (see libs/rng/src/normal.ts for the layout).

The TypeScript samplers and these reference loops draw the same noise for the same key, so the golden files
only need seeds, and a seed reproduces a sample across the two implementations.
"""
import numpy as np

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = np.uint64(0xFFFFFFFF)

PURPOSE = {"latent": 0, "start": 1, "step": 2, "posterior": 3, "corruption": 4}


def philox4x32(c0, c1, c2, c3, k0, k1):
    """Vectorised over counter arrays (uint64 arrays holding uint32 values)."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    for r in range(10):
        if r > 0:
            k0 = (k0 + W0) & 0xFFFFFFFF
            k1 = (k1 + W1) & 0xFFFFFFFF
        p0 = M0 * c0
        p1 = M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & MASK
        hi1, lo1 = p1 >> np.uint64(32), p1 & MASK
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
    return c0, c1, c2, c3


def normals(seed, sample, purpose, step, n):
    if isinstance(purpose, str):
        purpose = PURPOSE[purpose]
    blocks = (n + 3) // 4
    b = np.arange(blocks, dtype=np.uint64)
    full = lambda v: np.full(blocks, v, dtype=np.uint64)
    words = philox4x32(b, full(step), full(purpose), full(sample), seed % 2**32, seed // 2**32)
    w = np.stack(words, axis=1).astype(np.float64)  # [blocks, 4]
    u1, u2 = (w[:, 0::2] + 0.5) / 2**32, (w[:, 1::2] + 0.5) / 2**32  # pairs (0,1), (2,3)
    r = np.sqrt(-2.0 * np.log(u1))
    theta = 2.0 * np.pi * u2
    out = np.empty((blocks, 4), dtype=np.float64)
    out[:, 0::2] = r * np.cos(theta)
    out[:, 1::2] = r * np.sin(theta)
    return out.reshape(-1)[:n].astype(np.float32)


def batch_normals(seed, purpose, step, count, shape):
    size = int(np.prod(shape))
    return np.stack([normals(seed, s, purpose, step, size).reshape(shape) for s in range(count)])
