"""Reference reverse-process loops in numpy + PyTorch: what libs/schedulers must match (golden files).

Written from ARCHITECTURE §1 independently of the TypeScript; the arithmetic is float64 with float32
storage after each step, in the same order, so the two differ only by the network's float error.
"""
import math
import time

import numpy as np
import torch

from .rng import batch_normals
from .schedule import alpha_bars, linear_betas


def round_half_even(x):
    return int(np.round(x))


def spaced_timesteps(T, n, spacing, max_t=None):
    max_t = T - 1 if max_t is None else max_t
    span = max_t + 1
    if not (1 <= n <= span):
        raise ValueError(f"steps: must be in [1, {span}], got {n}")
    if spacing == "leading":
        k = span // n
        ts = [i * k for i in range(n)]
    elif spacing == "trailing":
        ts = [round_half_even(span - i * (span / n)) - 1 for i in range(n)]
    elif spacing == "linspace":
        ts = [round_half_even(v) for v in np.linspace(0, span - 1, n)]
    elif spacing == "quad":
        ts = [int(v) for v in np.linspace(0, math.sqrt(span * 0.8), n) ** 2]
        for i in range(1, n):  # repeats at the low end move up by one (see libs/schedulers spacing.ts)
            ts[i] = max(ts[i], ts[i - 1] + 1)
    else:
        raise ValueError(f"timestepSpacing: unknown {spacing!r}")
    ts = sorted(ts, reverse=True)
    if len(set(ts)) != len(ts):
        raise ValueError(f"steps: {n} steps with {spacing!r} spacing repeat a timestep")
    return ts


def respace(ab_full, steps, spacing, max_t=None):
    """ab_full: ᾱ_t of the walked schedule, t = 0 … T − 1 (schedule_alpha_bars)."""
    T = len(ab_full)
    ts = spaced_timesteps(T, steps, spacing, max_t)
    ab = np.array([ab_full[t] for t in ts], dtype=np.float64)
    ab_prev = np.array([ab_full[ts[i + 1]] if i + 1 < len(ts) else 1.0 for i in range(len(ts))], dtype=np.float64)
    beta = 1.0 - ab / ab_prev
    return ts, ab, ab_prev, beta


CONDITIONINGS = ("timestep", "noiseLevel")
INFERENCE_SCHEDULE_KINDS = ("LINEAR", "LOG_SNR", "KARRAS")
SIGMA_LIMIT = 1e4
RHO_RANGE = (1, 20)
DEFAULT_RHO = 7
_FIELDS = {"LINEAR": ("kind", "betaStart", "betaEnd"), "LOG_SNR": ("kind", "sigmaMin", "sigmaMax"),
           "KARRAS": ("kind", "sigmaMin", "sigmaMax", "rho")}


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def sigma_of(ab):
    return math.sqrt((1.0 - ab) / ab)


def schedule_alpha_bars(schedule):
    """ᾱ_t of a schedule dict {numTrainTimesteps, betaStart, betaEnd[, alphaBar]} (libs/schedulers scheduleAlphaBars)."""
    if schedule.get("alphaBar") is not None:
        return np.array(schedule["alphaBar"], dtype=np.float64)
    return alpha_bars(linear_betas(schedule["numTrainTimesteps"], schedule["betaStart"], schedule["betaEnd"]))


def normalize_inference_schedule(inf, training):
    """libs/schedulers inference-schedule.ts normalizeInferenceSchedule: the same checks, defaults filled in."""
    if not isinstance(inf, dict):
        raise ValueError(f"inferenceSchedule: must be an object, got {inf}")
    kind = inf.get("kind") or "LINEAR"
    if kind not in INFERENCE_SCHEDULE_KINDS:
        raise ValueError(f"inferenceSchedule.kind: must be one of {', '.join(INFERENCE_SCHEDULE_KINDS)}, got {kind}")
    for key, v in inf.items():
        if v is not None and key not in _FIELDS[kind]:
            raise ValueError(f"inferenceSchedule.{key}: is not a setting of a {kind} schedule")
    if kind == "LINEAR":
        b0, b1 = inf.get("betaStart"), inf.get("betaEnd")
        if not (_finite(b0) and 0 < b0 < 1):
            raise ValueError(f"inferenceSchedule.betaStart: must be a number in (0, 1), got {b0}")
        if not (_finite(b1) and b0 <= b1 < 1):
            raise ValueError(f"inferenceSchedule.betaEnd: must be a number in [betaStart, 1), got {b1}")
        return dict(betaStart=b0, betaEnd=b1) if inf.get("kind") is None else dict(kind=kind, betaStart=b0, betaEnd=b1)
    ab = schedule_alpha_bars(training)
    lo = inf.get("sigmaMin") if inf.get("sigmaMin") is not None else sigma_of(ab[0])
    hi = inf.get("sigmaMax") if inf.get("sigmaMax") is not None else sigma_of(ab[-1])
    if not (_finite(lo) and 0 < lo < SIGMA_LIMIT):
        raise ValueError(f"inferenceSchedule.sigmaMin: must be a number in (0, {SIGMA_LIMIT:g}), got {lo}")
    if not (_finite(hi) and lo < hi <= SIGMA_LIMIT):
        raise ValueError(f"inferenceSchedule.sigmaMax: must be a number in (sigmaMin, {SIGMA_LIMIT:g}], got {hi}")
    if kind == "LOG_SNR":
        return dict(kind=kind, sigmaMin=lo, sigmaMax=hi)
    rho = inf.get("rho") if inf.get("rho") is not None else DEFAULT_RHO
    if not (_finite(rho) and RHO_RANGE[0] <= rho <= RHO_RANGE[1]):
        raise ValueError(f"inferenceSchedule.rho: must be a number in [{RHO_RANGE[0]}, {RHO_RANGE[1]}], got {rho}")
    return dict(kind=kind, sigmaMin=lo, sigmaMax=hi, rho=rho)


def inference_sigmas(inf, n):
    """σ of each step in sampling order (noisiest first) for a normalized LOG_SNR or KARRAS schedule."""
    lo, hi = inf["sigmaMin"], inf["sigmaMax"]
    if inf["kind"] == "LOG_SNR":
        a, b = math.log(hi), math.log(lo)
        sig = [math.exp(a + (i / (n - 1)) * (b - a)) for i in range(n)]
    else:
        rho = inf["rho"]
        a, b = math.pow(hi, 1 / rho), math.pow(lo, 1 / rho)
        sig = [math.pow(a + (i / (n - 1)) * (b - a), rho) for i in range(n)]
    sig[0], sig[-1] = hi, lo
    return sig


def sampling_schedule(settings, T=1000, beta_start=1e-4, beta_end=0.02):
    """The schedule dict a sampler walks (libs/schedulers sampler.ts samplingSchedule, same checks): the inference
    schedule's over `steps` steps when settings has one (LINEAR: {T, betaStart, betaEnd}; LOG_SNR / KARRAS: with
    alphaBar, ᾱ_t = 1/(1 + σ²) with t = 0 the cleanest), else the training schedule."""
    training = dict(numTrainTimesteps=T, betaStart=beta_start, betaEnd=beta_end)
    inf = settings.get("inferenceSchedule")
    if inf is None:
        return training
    inf = normalize_inference_schedule(inf, training)
    n = settings["steps"]
    if not (isinstance(n, int) and 2 <= n <= T):
        raise ValueError(f"steps: must be an integer in [2, {T}] with an inference schedule, got {n}")
    if settings.get("startTimestep") is not None:
        raise ValueError("startTimestep: cannot be used with inferenceSchedule")
    if (inf.get("kind") or "LINEAR") == "LINEAR":
        return dict(numTrainTimesteps=n, betaStart=float(inf["betaStart"]), betaEnd=float(inf["betaEnd"]))
    sig = inference_sigmas(inf, n)
    ab = [1.0 / (1.0 + sig[n - 1 - t] * sig[n - 1 - t]) for t in range(n)]
    return dict(numTrainTimesteps=n, betaStart=1.0 - ab[0], betaEnd=1.0 - ab[n - 1] / ab[n - 2], alphaBar=ab)


def _x0(eps, y, ab, clip):
    x0 = (y.astype(np.float64) - math.sqrt(1.0 - ab) * eps.astype(np.float64)) / math.sqrt(ab)
    if clip:
        x0 = np.clip(x0, -1.0, 1.0)
    return x0.astype(np.float32)


def reverse_process(eps_fn, cond, seed, settings, T=1000, beta_start=1e-4, beta_end=0.02, init=None,
                    conditioning="timestep"):
    """cond: float32 [B, C, H, W]. settings: kind, steps, eta, temperature, varianceType, timestepSpacing,
    clipSample, formulation, startTimestep (optional), inferenceSchedule (optional: LINEAR {betaStart, betaEnd}, LOG_SNR or
    KARRAS {sigmaMin, sigmaMax[, rho]}, over `steps` steps, every one of them). conditioning: what eps_fn gets per sample,
    "timestep" (int64 t) or "noiseLevel" (float32 √ᾱ of the step in the schedule walked), as libs/schedulers'
    runReverseProcess. Returns y_0 (x_0 for Formulation 1)."""
    s = settings
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning: must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")
    walked = sampling_schedule(s, T, beta_start, beta_end)
    # with an inference schedule T = steps: every spacing keeps all of them
    ts, ab, ab_prev, beta = respace(schedule_alpha_bars(walked), s["steps"], s["timestepSpacing"], s.get("startTimestep"))
    n = len(ts)
    B, shape = cond.shape[0], cond.shape[1:]
    if init is not None:
        y = init.astype(np.float32).copy()
    else:
        y = (s["temperature"] * batch_normals(seed, "start", 0, B, shape).astype(np.float64)).astype(np.float32)
    post = lambda i: beta[i] * (1.0 - ab_prev[i]) / (1.0 - ab[i])
    lam = lambda a: 0.5 * math.log(a) - 0.5 * math.log(1.0 - a)
    prev_x0 = None  # DPM-Solver++(2M): the previous step's x̂_0
    for i, t in enumerate(ts):
        model_in = (y.astype(np.float64) + cond).astype(np.float32) if s["formulation"] == 2 else y
        if conditioning == "noiseLevel":
            eps = eps_fn(model_in, np.full(B, math.sqrt(ab[i]), dtype=np.float32), cond)
        else:
            eps = eps_fn(model_in, np.full(B, t, dtype=np.int64), cond)
        x0 = _x0(eps, y, ab[i], s["clipSample"])
        if s["kind"] in ("DPMPP_2M", "DPMPP_2M_SDE"):
            # libs/schedulers/src/dpm-solver.ts: data prediction, midpoint 2M; the last step lands on x̂_0
            sigma = 0.0
            if i == n - 1 or ab_prev[i] >= 1.0:
                v = x0.astype(np.float64)
            else:
                sigma_t, alpha_s, sigma_s = math.sqrt(1.0 - ab[i]), math.sqrt(ab_prev[i]), math.sqrt(1.0 - ab_prev[i])
                h = lam(ab_prev[i]) - lam(ab[i])
                r = (lam(ab[i]) - lam(ab[i - 1])) / h if (prev_x0 is not None and i > 0) else 0.0
                d1 = (x0.astype(np.float64) - prev_x0.astype(np.float64)) / r if r > 0 else 0.0
                if s["kind"] == "DPMPP_2M":
                    cx, c0 = sigma_s / sigma_t, -alpha_s * math.expm1(-h)
                    v = cx * y.astype(np.float64) + c0 * x0.astype(np.float64) + 0.5 * c0 * d1
                else:
                    cx, c0 = (sigma_s / sigma_t) * math.exp(-h), -alpha_s * math.expm1(-2.0 * h)
                    cz = sigma_s * math.sqrt(-math.expm1(-2.0 * h))
                    z = batch_normals(seed, "step", i, B, shape).astype(np.float64)
                    v = cx * y.astype(np.float64) + c0 * x0.astype(np.float64) + 0.5 * c0 * d1 + cz * z
            prev_x0 = x0
        elif s["kind"] == "DDPM":
            c0 = (beta[i] * math.sqrt(ab_prev[i])) / (1.0 - ab[i])
            ct = (math.sqrt(1.0 - beta[i]) * (1.0 - ab_prev[i])) / (1.0 - ab[i])
            last = i == n - 1
            if s["varianceType"] == "fixedsmall":
                var = post(i)
            else:
                var = post(n - 2) if last and n > 1 else beta[i]
            sigma = 0.0 if last else math.sqrt(var)
            v = c0 * x0.astype(np.float64) + ct * y.astype(np.float64)
        else:
            sigma = s["eta"] * math.sqrt((1 - ab_prev[i]) / (1 - ab[i])) * math.sqrt(1 - ab[i] / ab_prev[i])
            a = math.sqrt(ab_prev[i])
            d = math.sqrt(max(0.0, 1 - ab_prev[i] - sigma * sigma))
            v = a * x0.astype(np.float64) + d * eps.astype(np.float64)
        if sigma > 0:
            v = v + sigma * batch_normals(seed, "step", i, B, shape).astype(np.float64)
        y = v.astype(np.float32)
    return y


def torch_eps_fn(model):
    @torch.no_grad()
    def fn(x_t, t, cond):
        return model(torch.from_numpy(x_t), torch.from_numpy(t), torch.from_numpy(cond.astype(np.float32))).numpy()
    return fn


def sample_cli(args):
    """Times the PyTorch eager loop (what a user of the reference code runs)."""
    from .train import build_unet, load_refiner, load_vae
    if args.model_dir:
        from .onnx_weights import unet_from_model_set, vae_from_model_set
        vae, _ = vae_from_model_set(args.model_dir)
        unet, cfg, _ = unet_from_model_set(args.model_dir, build_unet)
    else:
        vae, _ = load_vae(args.ckpt_dir)
        unet, ckpt = load_refiner(args.ckpt_dir)
        cfg = ckpt["config"]
    z = torch.from_numpy(np.stack([np.random.default_rng(args.seed + i).standard_normal(vae.decoder.fc[0].in_features)
                                   for i in range(args.count)]).astype(np.float32))
    with torch.no_grad():
        cond = vae.decoder(z).numpy()
    settings = dict(kind=args.sampler.upper(), steps=args.steps, eta=0.0, temperature=1.0, varianceType="fixedlarge",
                    timestepSpacing="leading", clipSample=True, formulation=cfg["formulation"])
    t0 = time.time()
    out = reverse_process(torch_eps_fn(unet), cond, args.seed, settings)
    dt = time.time() - t0
    print(f"{args.count} samples x {args.steps} steps in {dt:.2f}s: {args.count * args.steps / dt:.1f} image-steps/s "
          f"(range {out.min():.2f}..{out.max():.2f})")
