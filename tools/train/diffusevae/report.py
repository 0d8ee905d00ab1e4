"""docs/training.md from the training logs (<ckpt-dir>/<stage>.log.jsonl): what was trained, how long, how fast."""
import json
import os


def _read(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _summary(rows):
    steps = [r for r in rows if "step" in r and "loss" in r]
    if not steps:
        return None
    starts = [r for r in rows if r.get("event") == "start"]
    # wall time: sum of per-log-interval times (resumed runs leave gaps that must not count)
    wall, prev = 0.0, None
    for r in steps:
        if prev is not None and r["step"] > prev["step"] and "sec_per_step" in r:
            wall += r["sec_per_step"] * (r["step"] - prev["step"])
        prev = r
    tail = steps[-10:]
    return {
        "steps": steps[-1]["step"],
        "runs": len(starts),
        "hours": wall / 3600,
        "sec_per_step_last": sum(r.get("sec_per_step", 0) for r in tail) / len(tail),
        "loss_last": sum(r["loss"] for r in tail) / len(tail),
        "loss_first": steps[0]["loss"],
        "extra": {k: v for k, v in rows[-1].items() if k in ("test_accuracy",)},
    }


def write_report(ckpt_dir, out, command):
    lines = ["# Training", "", f"Written by `{command}` from the trainer's logs.", "",
             "| stage | steps | runs (resumes + 1) | compute hours | s/step (last 10 logs) | loss: first log → last 10 logs | |",
             "|---|---:|---:|---:|---:|---|---|"]
    for stage in ("vae", "classifier", "refiner"):
        rows = _read(os.path.join(ckpt_dir, f"{stage}.log.jsonl"))
        s = _summary(rows)
        if s is None:
            lines.append(f"| {stage} | not trained | | | | | |")
            continue
        extra = ", ".join(f"{k} {v:.4f}" for k, v in s["extra"].items())
        hours = f"{s['hours']:.2f}" if s["hours"] > 0 else "not logged"
        sps = f"{s['sec_per_step_last']:.2f}" if s["sec_per_step_last"] > 0 else "not logged"
        lines.append(f"| {stage} | {s['steps']} | {s['runs']} | {hours} | {sps} | "
                     f"{s['loss_first']:.4g} → {s['loss_last']:.4g} | {extra} |")
    lines += ["", "Steps are optimizer steps (VAE and classifier: batch 128; refiner: batch 64). s/step is wall time on",
              "the 2-core development machine, shared with other work while the refiner trained, so it reads high.", ""]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {out}", flush=True)
