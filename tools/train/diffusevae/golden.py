"""Golden files for the TypeScript parity tests, written from the same checkpoints as an exported model set.

- networks.json: fixed inputs and PyTorch outputs of the four networks (ONNX must match to 1e-4);
- schedule.json: ᾱ and the timesteps of every spacing for several step counts;
- loops.json: full DDPM / DDIM loops run by sampling.reverse_process with the PyTorch refiner on Philox noise;
- ../sampling.json (write_sampling_golden, no model): loops on inference schedules and noise-level conditioning,
  with a synthetic ε (synthetic_eps, written the same in libs/schedulers/test/golden-sampling.test.ts).
"""
import base64
import json
import os

import numpy as np
import torch

from . import data as fmnist
from .rng import batch_normals
from .sampling import reverse_process, spaced_timesteps, torch_eps_fn
from .schedule import alpha_bars, linear_betas
from .train import load_classifier, load_refiner, load_vae


def enc(a):
    a = np.ascontiguousarray(a)
    if a.dtype == np.int64:
        return {"dtype": "int64", "shape": list(a.shape), "data": a.reshape(-1).tolist()}
    a = a.astype(np.float32)
    return {"dtype": "float32", "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


LOOP_CASES = [
    ("ddpm1000", 7, dict(kind="DDPM", steps=1000, eta=0.0, temperature=1.0, varianceType="fixedlarge",
                         timestepSpacing="leading", clipSample=True, formulation=1)),
    ("ddpm50_fixedsmall_trailing", 8, dict(kind="DDPM", steps=50, eta=0.0, temperature=1.0, varianceType="fixedsmall",
                                           timestepSpacing="trailing", clipSample=True, formulation=1)),
    ("ddim10_leading", 9, dict(kind="DDIM", steps=10, eta=0.0, temperature=1.0, varianceType="fixedlarge",
                               timestepSpacing="leading", clipSample=True, formulation=1)),
    ("ddim25_trailing_eta1_temp08", 10, dict(kind="DDIM", steps=25, eta=1.0, temperature=0.8, varianceType="fixedlarge",
                                              timestepSpacing="trailing", clipSample=True, formulation=1)),
    ("ddim50_linspace_eta05_f2", 11, dict(kind="DDIM", steps=50, eta=0.5, temperature=1.0, varianceType="fixedlarge",
                                          timestepSpacing="linspace", clipSample=False, formulation=2)),
    ("ddim10_quad_start400", 12, dict(kind="DDIM", steps=10, eta=0.0, temperature=1.0, varianceType="fixedlarge",
                                      timestepSpacing="quad", clipSample=True, formulation=1, startTimestep=400)),
    ("dpmpp2m10_trailing", 13, dict(kind="DPMPP_2M", steps=10, eta=0.0, temperature=1.0, varianceType="fixedlarge",
                                    timestepSpacing="trailing", clipSample=True, formulation=1)),
    ("dpmpp2m_sde12_trailing_f2", 14, dict(kind="DPMPP_2M_SDE", steps=12, eta=0.0, temperature=0.9, varianceType="fixedlarge",
                                           timestepSpacing="trailing", clipSample=True, formulation=2)),
]


_F1 = dict(eta=0.0, temperature=1.0, varianceType="fixedlarge", timestepSpacing="trailing", clipSample=True, formulation=1)
_PAPER = dict(betaStart=1e-6, betaEnd=0.8)  # DiffuseVAE Table 3: Linear(1e-6, 0.8) over 10 steps

# (name, seed, settings, conditioning): what the ε function is fed per sample
SAMPLING_CASES = [
    ("ddpm10_linear_paper", 21, dict(_F1, kind="DDPM", steps=10, inferenceSchedule=_PAPER), "noiseLevel"),
    ("ddpm10_linear_paper_fixedsmall_f2", 22, dict(_F1, kind="DDPM", steps=10, varianceType="fixedsmall", formulation=2,
                                                   temperature=0.9, inferenceSchedule=_PAPER), "noiseLevel"),
    ("ddim10_linear_paper", 23, dict(_F1, kind="DDIM", steps=10, inferenceSchedule=_PAPER), "noiseLevel"),
    ("ddim10_linear_paper_eta1_f2", 24, dict(_F1, kind="DDIM", steps=10, eta=1.0, formulation=2, clipSample=False,
                                             inferenceSchedule=_PAPER), "noiseLevel"),
    ("dpmpp2m10_linear_paper", 25, dict(_F1, kind="DPMPP_2M", steps=10, inferenceSchedule=_PAPER), "noiseLevel"),
    ("dpmpp2m_sde10_linear_paper_f2", 26, dict(_F1, kind="DPMPP_2M_SDE", steps=10, formulation=2,
                                               inferenceSchedule=_PAPER), "noiseLevel"),
    ("dpmpp2m_sde20_linear_1e-4_0.05", 27, dict(_F1, kind="DPMPP_2M_SDE", steps=20,
                                                inferenceSchedule=dict(betaStart=1e-4, betaEnd=0.05)), "noiseLevel"),
    # the training schedule, fed √ᾱ_t instead of t
    ("ddim10_trailing_training_noise_level", 28, dict(_F1, kind="DDIM", steps=10, eta=0.5), "noiseLevel"),
    # an inference schedule fed its own timestep indices (steps − 1 … 0)
    ("ddim10_linear_paper_timestep", 29, dict(_F1, kind="DDIM", steps=10, inferenceSchedule=_PAPER), "timestep"),
]


def synthetic_eps(x_t, c, cond):
    """A deterministic ε of (x_t, per-sample conditioning c, cond) in float64, stored as float32; only IEEE-exact
    operations (+ − × ÷ √), so that the TypeScript twin gives the same bits: (x_t − c·0.9·cond) / √(1 + c²) with c
    rounded to float32 (a noise level reaches an ONNX refiner as float32)."""
    g = c.astype(np.float32).astype(np.float64)[:, None, None, None]
    return ((x_t.astype(np.float64) - g * 0.9 * cond.astype(np.float64)) / np.sqrt(1.0 + g * g)).astype(np.float32)


def write_sampling_golden(out_path, count=2, shape=(1, 8, 8)):
    """sampling.json: reverse_process on each SAMPLING_CASES entry with synthetic_eps; records the conditioning
    values fed at every step (float32) and the output. Needs no checkpoint."""
    from .sampling import sampling_schedule
    cases = []
    for name, seed, settings, conditioning in SAMPLING_CASES:
        cond = np.tanh(batch_normals(seed, "latent", 0, count, shape).astype(np.float64)).astype(np.float32)
        fed = []

        def eps_fn(x_t, c, cd):
            fed.append(float(np.float32(c[0])))
            return synthetic_eps(x_t, c, cd)

        out = reverse_process(eps_fn, cond, seed, settings, init=None, conditioning=conditioning)
        T, b0, b1 = sampling_schedule(settings)
        cases.append({"name": name, "seed": seed, "settings": settings, "conditioning": conditioning,
                      "schedule": {"numTrainTimesteps": T, "betaStart": b0, "betaEnd": b1},
                      "fed": fed, "cond": enc(cond), "output": enc(out)})
        print(f"golden sampling {name}: output range {out.min():.3f}..{out.max():.3f}", flush=True)
    with open(out_path, "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {out_path}", flush=True)


@torch.no_grad()
def write_golden(model_dir, ckpt_dir, out_dir, count=2):
    os.makedirs(out_dir, exist_ok=True)
    manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
    vae, _ = load_vae(ckpt_dir)
    unet, _ = load_refiner(ckpt_dir)
    clf, _ = load_classifier(ckpt_dir)
    sch = manifest["schedule"]
    T, b0, b1 = sch["numTrainTimesteps"], sch["betaStart"], sch["betaEnd"]
    res, ch, zd = manifest["image"]["resolution"], manifest["image"]["channels"], manifest["latent"]["dim"]
    sha = {k: v["sha256"] for k, v in manifest["files"].items()}

    # networks
    images, _ = fmnist.load_split("test")
    x = torch.from_numpy(fmnist.to_model_range(images[:4]))
    z = torch.from_numpy(batch_normals(1, "latent", 0, 4, (zd,)))
    mu, logvar = vae.encoder(x)
    x_hat = vae.decoder(z)
    x_t = torch.from_numpy(batch_normals(2, "start", 0, 4, (ch, res, res)))
    t = torch.tensor([0, 10, 500, 999], dtype=torch.long)
    eps = unet(x_t, t, x_hat)
    feats = clf.features(x)
    networks = {
        "sha256": sha,
        "encoder": {"inputs": {"x": enc(x.numpy())}, "outputs": {"mu": enc(mu.numpy()), "logvar": enc(logvar.numpy())}},
        "decoder": {"inputs": {"z": enc(z.numpy())}, "outputs": {"x_hat": enc(x_hat.numpy())}},
        "refiner": {"inputs": {"x_t": enc(x_t.numpy()), "t": enc(t.numpy()), "cond": enc(x_hat.numpy())},
                    "outputs": {"eps": enc(eps.numpy())}},
        "classifier": {"inputs": {"x": enc(x.numpy())}, "outputs": {"features": enc(feats.numpy())}},
    }
    json.dump(networks, open(os.path.join(out_dir, "networks.json"), "w"))

    # schedule
    ab = alpha_bars(linear_betas(T, b0, b1))
    spacings = {}
    for spacing in ["leading", "trailing", "linspace", "quad"]:
        for n in [1, 7, 10, 16, 25, 50, 100, 1000]:
            for max_t in [None, 400]:
                key = f"{spacing}/{n}/{max_t if max_t is not None else T - 1}"
                try:
                    spacings[key] = spaced_timesteps(T, n, spacing, max_t)
                except ValueError:
                    spacings[key] = None  # the TypeScript must refuse it too
    json.dump({"alphaBar": ab.tolist(), "timesteps": spacings}, open(os.path.join(out_dir, "schedule.json"), "w"))

    # loops: cond from the decoder on latent noise of the loop's seed
    eps_fn = torch_eps_fn(unet)
    loops = {"sha256": sha, "cases": []}
    for name, seed, settings in LOOP_CASES:
        zc = torch.from_numpy(batch_normals(seed, "latent", 0, count, (zd,)))
        cond = vae.decoder(zc).numpy()
        init = None
        if "startTimestep" in settings:
            # denoising-style start: √ᾱ_t · (a test image + noise)
            clean = fmnist.to_model_range(images[4:4 + count])
            noisy = clean + 0.2 * batch_normals(seed, "corruption", 0, count, (ch, res, res))
            init = (np.sqrt(ab[settings["startTimestep"]]) * noisy.astype(np.float64)).astype(np.float32)
            cond = noisy.astype(np.float32)
        out = reverse_process(eps_fn, cond, seed, settings, T, b0, b1, init=init)
        case = {"name": name, "seed": seed, "settings": settings, "cond": enc(cond), "output": enc(out)}
        if init is not None:
            case["init"] = enc(init)
        loops["cases"].append(case)
        print(f"golden loop {name}: output range {out.min():.3f}..{out.max():.3f}", flush=True)
    json.dump(loops, open(os.path.join(out_dir, "loops.json"), "w"))
    print(f"wrote golden files to {out_dir}", flush=True)
