"""Checkpoints, logs and stop signals shared by the three trainers."""
import json
import os
import signal
import sys
import time

import torch


class StopFlag:
    """SIGINT/SIGTERM ask the loop to save a checkpoint and exit at the end of the current step."""

    def __init__(self):
        self.stop = False
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.stop:  # second signal: give up at once
            sys.exit(130)
        self.stop = True
        print(f"signal {signum}: saving a checkpoint and stopping after this step", flush=True)


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    if not os.path.isfile(path):
        return None
    return torch.load(path, map_location="cpu")


class Logger:
    """One JSON object per line in <ckpt-dir>/<stage>.log.jsonl, plus a readable line on stdout."""

    def __init__(self, ckpt_dir, stage):
        self.path = os.path.join(ckpt_dir, f"{stage}.log.jsonl")
        self.stage = stage

    def log(self, **fields):
        fields = {"time": round(time.time(), 1), "stage": self.stage, **fields}
        with open(self.path, "a") as f:
            f.write(json.dumps(fields) + "\n")
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items() if k != "time"), flush=True)


def ema_decay(step, max_decay):
    """EMA decay with warm-up, (1 + n) / (10 + n) capped: an early EMA must not average in the random init."""
    return min(max_decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(ema_model, model, decay):
    for pe, p in zip(ema_model.parameters(), model.parameters()):
        pe.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
    for be, b in zip(ema_model.buffers(), model.buffers()):
        be.copy_(b)


class BatchStream:
    """Endless shuffled minibatches over an in-memory tensor, reproducible from (seed, epoch)."""

    def __init__(self, n, batch_size, seed):
        self.n, self.batch_size, self.seed = n, batch_size, seed

    def indices(self, step):
        per_epoch = self.n // self.batch_size
        epoch, i = divmod(step, per_epoch)
        g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        perm = torch.randperm(self.n, generator=g)
        return perm[i * self.batch_size : (i + 1) * self.batch_size], epoch
