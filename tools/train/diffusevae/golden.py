"""Golden files for the TypeScript parity tests, written from the same checkpoints as an exported model set.

- networks.json: fixed inputs and PyTorch outputs of the four networks (ONNX must match to 1e-4); for a refiner
  fine-tuned from another set (--init-from), the refiner's only (see write_golden);
- schedule.json: ᾱ and the timesteps of every spacing for several step counts;
- loops.json: full DDPM / DDIM loops run by sampling.reverse_process with the PyTorch refiner on Philox noise;
  a continuous-noise refiner is fed √ᾱ (conditioning "noiseLevel") on inference schedules and the training one;
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
    # schedules given by σ: log-SNR uniform and Karras, with their ends given and left to the training schedule's
    ("dpmpp2m_sde10_logsnr_0.1_80", 40, dict(_F1, kind="DPMPP_2M_SDE", steps=10,
                                             inferenceSchedule=dict(kind="LOG_SNR", sigmaMin=0.1, sigmaMax=80.0)), "noiseLevel"),
    ("ddpm10_logsnr_training_ends", 41, dict(_F1, kind="DDPM", steps=10, inferenceSchedule=dict(kind="LOG_SNR")), "noiseLevel"),
    ("ddim10_karras_eta1_training_ends", 42, dict(_F1, kind="DDIM", steps=10, eta=1.0,
                                                  inferenceSchedule=dict(kind="KARRAS")), "noiseLevel"),
    ("dpmpp2m8_karras_rho3_f2", 43, dict(_F1, kind="DPMPP_2M", steps=8, formulation=2, clipSample=False,
                                         inferenceSchedule=dict(kind="KARRAS", sigmaMin=0.05, sigmaMax=50.0, rho=3.0)), "noiseLevel"),
]


# loops for a refiner conditioned on the noise level √ᾱ (schedule.noiseConditioning "continuous"): the paper's
# Linear(1e-6, 0.8) × 10 and the default sampler on the training schedule; the set's formulation is filled in
# (CONTINUOUS_LOOP_CASES' formulation 1 is a placeholder). Batch 2, 10 steps: seconds each on one CPU thread.
CONTINUOUS_LOOP_CASES = [
    ("ddpm10_linear_paper", 31, dict(_F1, kind="DDPM", steps=10, inferenceSchedule=_PAPER)),
    ("ddpm10_linear_paper_fixedsmall_temp09", 32, dict(_F1, kind="DDPM", steps=10, varianceType="fixedsmall",
                                                       temperature=0.9, inferenceSchedule=_PAPER)),
    ("ddim10_linear_paper", 33, dict(_F1, kind="DDIM", steps=10, inferenceSchedule=_PAPER)),
    ("ddim10_linear_paper_eta1", 34, dict(_F1, kind="DDIM", steps=10, eta=1.0, inferenceSchedule=_PAPER)),
    ("dpmpp2m_sde10_trailing", 35, dict(_F1, kind="DPMPP_2M_SDE", steps=10)),
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
        cases.append({"name": name, "seed": seed, "settings": settings, "conditioning": conditioning,
                      "schedule": sampling_schedule(settings),
                      "fed": fed, "cond": enc(cond), "output": enc(out)})
        print(f"golden sampling {name}: output range {out.min():.3f}..{out.max():.3f}", flush=True)
    with open(out_path, "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {out_path}", flush=True)


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _model_set_dir(path):
    """A model-set folder as a checkpoint names it (init_from): as given, else relative to the repository root
    (the trainer stores it as passed, e.g. models/fmnist from the root)."""
    if os.path.isdir(path) or os.path.isabs(path):
        return path
    return os.path.join(REPO, path)


def check_refiner_matches(model_dir, manifest, unet, ckpt):
    """The goldens hold the checkpoint's PyTorch outputs, so the set's refiner.onnx must hold exactly its weights (a
    checkpoint that trained on after the export would give goldens that no longer match the committed files)."""
    from .onnx_weights import load_state
    from .train import build_unet
    cfg = ckpt["config"]
    probe = build_unet(cfg)
    x = torch.zeros(2, cfg["channels"], cfg["resolution"], cfg["resolution"])
    load_state(probe, os.path.join(model_dir, manifest["files"]["refiner"]["path"]), (x, probe.probe_level(2), x))
    exported, current = probe.state_dict(), unet.state_dict()
    differ = [k for k in current if not torch.equal(exported[k], current[k])]
    if differ:
        from .train import TrainError
        steps = manifest.get("training", {}).get("refiner", {}).get("trainedSteps")
        raise TrainError(f"{model_dir}/refiner.onnx was not exported from this checkpoint ({len(differ)} weights differ, "
                         f"e.g. {differ[0]}; the set says trainedSteps={steps}, the checkpoint has step {ckpt['step']}): "
                         f"write the goldens from the checkpoint the set was exported from, or re-export it with --golden")


@torch.no_grad()
def write_golden(model_dir, ckpt_dir, out_dir, count=2, refiner=None):
    """Golden files for the set in model_dir, from the checkpoints in ckpt_dir it was exported from (checked: the
    refiner's weights must equal refiner.onnx's).

    A refiner fine-tuned from another set (checkpoint config init_from, e.g. models/fmnist-cont) has only its own
    checkpoint: its encoder, decoder and classifier are byte copies of the base set's files, already held to
    PyTorch by the base set's goldens (from the base's checkpoints). Their PyTorch weights could only be read back
    from those same ONNX files here, which would test onnx_weights rather than the export, so networks.json then
    holds the refiner only, and the TypeScript test checks that the other files are byte copies of a set whose
    goldens cover them. The loops' conditioning images come from the base set's decoder (vae_from_model_set).

    A refiner conditioned on the noise level (noise_conditioning "continuous") is fed √ᾱ: fixed levels in
    networks.json (grid points, between them and below the schedule's end), and CONTINUOUS_LOOP_CASES in its own
    formulation with conditioning "noiseLevel".

    refiner: (network, checkpoint) already loaded from ckpt_dir (the export's own, so that a trainer saving into
    ckpt_dir meanwhile cannot slip another checkpoint in)."""
    os.makedirs(out_dir, exist_ok=True)
    manifest = json.load(open(os.path.join(model_dir, "manifest.json")))
    unet, ref_ckpt = refiner or load_refiner(ckpt_dir)
    unet.eval()
    rcfg = ref_ckpt["config"]
    check_refiner_matches(model_dir, manifest, unet, ref_ckpt)
    finetuned = bool(rcfg.get("init_from"))
    continuous = rcfg.get("noise_conditioning", "discrete") == "continuous"
    if finetuned:
        from .onnx_weights import vae_from_model_set
        vae, _ = vae_from_model_set(_model_set_dir(rcfg["init_from"]))
        clf = None
    else:
        vae, _ = load_vae(ckpt_dir)
        clf, _ = load_classifier(ckpt_dir)
    sch = manifest["schedule"]
    T, b0, b1 = sch["numTrainTimesteps"], sch["betaStart"], sch["betaEnd"]
    res, ch, zd = manifest["image"]["resolution"], manifest["image"]["channels"], manifest["latent"]["dim"]
    sha = {k: v["sha256"] for k, v in manifest["files"].items()}
    ab = alpha_bars(linear_betas(T, b0, b1))

    # networks
    images, _ = fmnist.load_split("test")
    networks = {"sha256": sha}
    if continuous:
        # √ᾱ at t = -1 (1), 10 and T-1, one between grid points, one below the schedule's end (clamped at T-1)
        level = torch.tensor([1.0, np.sqrt(ab[10]), 0.5, np.sqrt(ab[T - 1]), 1e-3], dtype=torch.float32)
        level_name = "noise_level"
    else:
        level = torch.tensor([0, 10, 500, 999], dtype=torch.long)
        level_name = "t"
    n = level.shape[0]
    x = torch.from_numpy(fmnist.to_model_range(images[:4]))
    z = torch.from_numpy(batch_normals(1, "latent", 0, n, (zd,)))
    x_hat = vae.decoder(z)
    x_t = torch.from_numpy(batch_normals(2, "start", 0, n, (ch, res, res)))
    eps = unet(x_t, level, x_hat)
    if not finetuned:
        mu, logvar = vae.encoder(x)
        feats = clf.features(x)
        networks["encoder"] = {"inputs": {"x": enc(x.numpy())}, "outputs": {"mu": enc(mu.numpy()), "logvar": enc(logvar.numpy())}}
        networks["decoder"] = {"inputs": {"z": enc(z.numpy())}, "outputs": {"x_hat": enc(x_hat.numpy())}}
    networks["refiner"] = {"inputs": {"x_t": enc(x_t.numpy()), level_name: enc(level.numpy()), "cond": enc(x_hat.numpy())},
                           "outputs": {"eps": enc(eps.numpy())}}
    if not finetuned:
        networks["classifier"] = {"inputs": {"x": enc(x.numpy())}, "outputs": {"features": enc(feats.numpy())}}
    json.dump(networks, open(os.path.join(out_dir, "networks.json"), "w"))

    # schedule
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
    if continuous:
        cases = [(name, seed, {**settings, "formulation": rcfg["formulation"]}) for name, seed, settings in CONTINUOUS_LOOP_CASES]
    else:
        cases = LOOP_CASES
    conditioning = "noiseLevel" if continuous else "timestep"
    for name, seed, settings in cases:
        zc = torch.from_numpy(batch_normals(seed, "latent", 0, count, (zd,)))
        cond = vae.decoder(zc).numpy()
        init = None
        if "startTimestep" in settings:
            # denoising-style start: √ᾱ_t · (a test image + noise)
            clean = fmnist.to_model_range(images[4:4 + count])
            noisy = clean + 0.2 * batch_normals(seed, "corruption", 0, count, (ch, res, res))
            init = (np.sqrt(ab[settings["startTimestep"]]) * noisy.astype(np.float64)).astype(np.float32)
            cond = noisy.astype(np.float32)
        out = reverse_process(eps_fn, cond, seed, settings, T, b0, b1, init=init, conditioning=conditioning)
        case = {"name": name, "seed": seed, "settings": settings, "conditioning": conditioning, "cond": enc(cond),
                "output": enc(out)}
        if init is not None:
            case["init"] = enc(init)
        loops["cases"].append(case)
        print(f"golden loop {name}: output range {out.min():.3f}..{out.max():.3f}", flush=True)
    json.dump(loops, open(os.path.join(out_dir, "loops.json"), "w"))
    print(f"wrote golden files to {out_dir}", flush=True)
