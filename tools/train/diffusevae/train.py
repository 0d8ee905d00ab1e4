"""The three training loops. Each resumes from <ckpt-dir>/<stage>.pt when it exists."""
import copy
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data as fmnist
from .common import BatchStream, Logger, StopFlag, ema_decay, ema_update, load_checkpoint, save_atomic
from .models import VAE, Classifier, UNet, count_flops, param_count
from .schedule import alpha_bars, linear_betas


class TrainError(Exception):
    pass


def _ckpt_path(ckpt_dir, stage):
    import os
    return os.path.join(ckpt_dir, f"{stage}.pt")


def _check_resume(ckpt, cfg, stage, keys):
    """A checkpoint may only be resumed with the same architecture."""
    if ckpt is None:
        return
    ckpt["config"].setdefault("noise_conditioning", "discrete")   # checkpoints from before these settings
    ckpt["config"].setdefault("init_from", None)
    for k in keys:
        if ckpt["config"].get(k) != cfg.get(k):
            raise TrainError(f"{stage}: checkpoint has {k}={ckpt['config'].get(k)!r} but this run asks for {cfg.get(k)!r}; "
                             f"use another --ckpt-dir or the same setting")


def _lr_at(step, lr, warmup):
    return lr * min(1.0, (step + 1) / max(1, warmup))


def _train_images(cfg):
    images, labels = fmnist.load_split("train", cfg.get("data_dir"))
    if cfg.get("limit_data"):
        images, labels = images[: cfg["limit_data"]], labels[: cfg["limit_data"]]
    return torch.from_numpy(fmnist.to_model_range(images)), torch.from_numpy(labels.astype(np.int64))


def vae_config(args):
    return dict(z_dim=args.z_dim, width=args.vae_width, channels=1, resolution=28, batch_size=args.vae_batch,
                lr=args.vae_lr, steps=args.vae_steps, kl_weight=args.kl_weight, seed=args.seed,
                data_dir=args.data_dir, limit_data=args.limit_data)


def build_vae(cfg):
    return VAE(cfg["channels"], cfg["resolution"], cfg["z_dim"], cfg["width"])


def vae_loss(model, x, kl_weight):
    """Negative ELBO with a Gaussian decoder of fixed variance: summed squared error + β·KL(q(z|x) || N(0, I))."""
    recon, mu, logvar = model(x)
    rec = F.mse_loss(recon, x, reduction="sum") / x.shape[0]
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
    return rec + kl_weight * kl, rec, kl


def train_vae(cfg, ckpt_dir, stop=None):
    stop = stop or StopFlag()
    path = _ckpt_path(ckpt_dir, "vae")
    ckpt = load_checkpoint(path)
    _check_resume(ckpt, cfg, "vae", ["z_dim", "width", "channels", "resolution"])
    torch.manual_seed(cfg["seed"])
    model = build_vae(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    step = 0
    if ckpt:
        model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["opt"]); step = ckpt["step"]
        torch.set_rng_state(ckpt["rng"])
    if step >= cfg["steps"]:
        print(f"vae: already trained ({step} steps)", flush=True)
        return model
    x_all, _ = _train_images(cfg)
    stream = BatchStream(len(x_all), cfg["batch_size"], cfg["seed"])
    log = Logger(ckpt_dir, "vae")
    log.log(event="start", step=step, steps=cfg["steps"], params=param_count(model))
    t0, acc, last = time.time(), [], step
    while step < cfg["steps"] and not stop.stop:
        idx, epoch = stream.indices(step)
        lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * step / cfg["steps"]))  # cosine decay: a VAE converges
        for g in opt.param_groups:
            g["lr"] = lr
        loss, rec, kl = vae_loss(model, x_all[idx], cfg["kl_weight"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        acc.append((loss.item(), rec.item(), kl.item()))
        if step % 100 == 0 or step == cfg["steps"]:
            m = np.mean(acc, axis=0); acc = []
            log.log(step=step, epoch=epoch, loss=float(m[0]), recon=float(m[1]), kl=float(m[2]), lr=lr,
                    sec_per_step=(time.time() - t0) / (step - last))
            last = step
            t0 = time.time()
        if step % 500 == 0:
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": cfg,
                         "rng": torch.get_rng_state()}, path)
    save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": cfg,
                 "rng": torch.get_rng_state()}, path)
    log.log(event="saved", step=step)
    return model


def load_vae(ckpt_dir):
    ckpt = load_checkpoint(_ckpt_path(ckpt_dir, "vae"))
    if ckpt is None:
        raise TrainError(f"no VAE checkpoint in {ckpt_dir}: train stage 1 first (train vae)")
    model = build_vae(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


def classifier_config(args):
    return dict(width=args.clf_width, feature_dim=args.feature_dim, channels=1, resolution=28,
                batch_size=args.clf_batch, lr=args.clf_lr, steps=args.clf_steps, seed=args.seed,
                data_dir=args.data_dir, limit_data=args.limit_data)


def build_classifier(cfg):
    return Classifier(cfg["channels"], cfg["resolution"], cfg["width"], cfg["feature_dim"])


@torch.no_grad()
def classifier_accuracy(model, cfg):
    images, labels = fmnist.load_split("test", cfg.get("data_dir"))
    x = torch.from_numpy(fmnist.to_model_range(images))
    y = torch.from_numpy(labels.astype(np.int64))
    model.eval()
    correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(x), 1000))
    return correct / len(x)


def train_classifier(cfg, ckpt_dir, stop=None):
    stop = stop or StopFlag()
    path = _ckpt_path(ckpt_dir, "classifier")
    ckpt = load_checkpoint(path)
    _check_resume(ckpt, cfg, "classifier", ["width", "feature_dim", "channels", "resolution"])
    torch.manual_seed(cfg["seed"] + 1)
    model = build_classifier(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    step = 0
    if ckpt:
        model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["opt"]); step = ckpt["step"]
    if step >= cfg["steps"]:
        print(f"classifier: already trained ({step} steps), test accuracy {ckpt.get('test_accuracy')}", flush=True)
        return model
    x_all, y_all = _train_images(cfg)
    stream = BatchStream(len(x_all), cfg["batch_size"], cfg["seed"] + 1)
    log = Logger(ckpt_dir, "classifier")
    log.log(event="start", step=step, steps=cfg["steps"], params=param_count(model))
    model.train()
    acc, t0, last = [], time.time(), step
    while step < cfg["steps"] and not stop.stop:
        idx, epoch = stream.indices(step)
        x = x_all[idx]
        # light augmentation: horizontal flips and 2-pixel shifts keep features robust to generator jitter
        flip = torch.rand(x.shape[0]) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        dx, dy = np.random.randint(-2, 3, size=2)
        x = torch.roll(x, shifts=(int(dy), int(dx)), dims=(2, 3))
        lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * step / cfg["steps"]))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.cross_entropy(model(x), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        acc.append(loss.item())
        if step % 100 == 0:
            log.log(step=step, epoch=epoch, loss=float(np.mean(acc)), lr=lr, sec_per_step=(time.time() - t0) / (step - last))
            acc, t0, last = [], time.time(), step
    test_acc = classifier_accuracy(model, cfg)
    save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": cfg,
                 "test_accuracy": test_acc}, path)
    log.log(event="saved", step=step, test_accuracy=test_acc)
    return model


def refiner_config(args):
    return dict(base=args.unet_base, mults=list(args.unet_mults), num_res_blocks=args.unet_res_blocks,
                attn_levels=list(args.unet_attn_levels), dropout=args.dropout, channels=1, resolution=28,
                T=1000, beta_start=1e-4, beta_end=0.02, formulation=args.formulation,
                batch_size=args.batch, lr=args.lr, warmup=args.warmup, grad_clip=1.0, ema_decay=args.ema_decay,
                steps=args.steps, seed=args.seed, data_dir=args.data_dir, limit_data=args.limit_data,
                ckpt_every=args.ckpt_every, noise_conditioning=args.noise_conditioning,
                init_from=os.path.normpath(args.init_from) if args.init_from else None)


ARCHITECTURE_KEYS = ["base", "mults", "num_res_blocks", "attn_levels", "channels", "resolution", "T", "beta_start", "beta_end"]


def schedule_alpha_bars(cfg):
    return alpha_bars(linear_betas(cfg["T"], cfg["beta_start"], cfg["beta_end"]))


def build_unet(cfg):
    continuous = cfg.get("noise_conditioning", "discrete") == "continuous"
    return UNet(cfg["channels"], cfg["base"], tuple(cfg["mults"]), cfg["num_res_blocks"], tuple(cfg["attn_levels"]),
                cfg["dropout"], noise_levels=schedule_alpha_bars(cfg) if continuous else None)


def continuous_levels(ab, n, generator=None):
    """Noise levels γ = √ᾱ(τ) for τ uniform in [-1, T-1]: -log ᾱ interpolated linearly between the training
    schedule's points (ᾱ(-1) = 1), the inverse of NoiseLevelTime, so every level in (√ᾱ_{T-1}, 1] is trained."""
    levels = torch.cat([torch.zeros(1, dtype=torch.float64), -torch.log(torch.as_tensor(ab, dtype=torch.float64))])
    tau = torch.rand(n, generator=generator, dtype=torch.float64) * (len(levels) - 1)   # position in levels
    lo = tau.floor().long().clamp(max=len(levels) - 2)
    frac = tau - lo
    level = levels[lo] + frac * (levels[lo + 1] - levels[lo])
    return torch.exp(-0.5 * level).float()


def _init_refiner(cfg):
    """Fine-tuning start: the refiner and VAE of a committed model set, which must have this architecture."""
    from .onnx_weights import read_manifest, unet_from_model_set
    base = read_manifest(cfg["init_from"])["training"]["refiner"]
    for k in ARCHITECTURE_KEYS:
        if base.get(k) != cfg.get(k):
            raise TrainError(f"--init-from {cfg['init_from']}: its refiner has {k}={base.get(k)!r}, this run {cfg.get(k)!r}")
    source, _, _ = unet_from_model_set(cfg["init_from"], lambda c: build_unet({**c, "noise_conditioning": "discrete"}))
    return source.state_dict()


def train_refiner(cfg, ckpt_dir, stop=None):
    """Stage 2: ε-prediction on VAE reconstructions of the training images, recomputed every batch with the
    VAE frozen and z sampled from q(z|x), as the DiffuseVAE reference does."""
    stop = stop or StopFlag()
    path = _ckpt_path(ckpt_dir, "refiner")
    ckpt = load_checkpoint(path)
    _check_resume(ckpt, cfg, "refiner", ARCHITECTURE_KEYS + ["formulation", "noise_conditioning", "init_from"])
    if cfg.get("init_from"):
        # the fine-tuned refiner conditions on the same stage 1 as the set it starts from
        from .onnx_weights import vae_from_model_set
        vae, _ = vae_from_model_set(cfg["init_from"])
    else:
        vae, _ = load_vae(ckpt_dir)
    for p in vae.parameters():
        p.requires_grad_(False)
    torch.manual_seed(cfg["seed"] + 2)
    model = build_unet(cfg)
    if cfg.get("init_from") and not ckpt:
        model.load_state_dict(_init_refiner(cfg))
    ema = copy.deepcopy(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    step = 0
    continuous = cfg.get("noise_conditioning", "discrete") == "continuous"
    if ckpt:
        model.load_state_dict(ckpt["model"]); ema.load_state_dict(ckpt["ema"]); opt.load_state_dict(ckpt["opt"])
        step = ckpt["step"]; torch.set_rng_state(ckpt["rng"])
        # settings that may change between runs of the same model (more steps, another EMA horizon)
        ckpt["config"].update({k: cfg[k] for k in ("steps", "lr", "ema_decay", "ckpt_every", "warmup")})
        cfg = ckpt["config"]
    if step >= cfg["steps"]:
        print(f"refiner: already trained ({step} steps)", flush=True)
        return ema
    ab_np = schedule_alpha_bars(cfg)
    ab = torch.tensor(ab_np, dtype=torch.float32)
    x_all, _ = _train_images(cfg)
    stream = BatchStream(len(x_all), cfg["batch_size"], cfg["seed"] + 2)
    log = Logger(ckpt_dir, "refiner")
    probe = torch.zeros(1, cfg["channels"], cfg["resolution"], cfg["resolution"])
    log.log(event="start", step=step, steps=cfg["steps"], params=param_count(model),
            gflop_per_image_step=count_flops(model, probe, model.probe_level(1), probe) / 1e9,
            formulation=cfg["formulation"], noise_conditioning=cfg.get("noise_conditioning", "discrete"),
            init_from=cfg.get("init_from"))

    def save():
        save_atomic({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                     "config": cfg, "rng": torch.get_rng_state()}, path)

    model.train()
    losses, t_data, t0, last = [], 0.0, time.time(), step
    while step < cfg["steps"] and not stop.stop:
        td = time.time()
        idx, epoch = stream.indices(step)
        x0 = x_all[idx]
        with torch.no_grad():
            mu, logvar = vae.encoder(x0)
            cond = vae.decoder(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
        if continuous:
            t = continuous_levels(ab_np, x0.shape[0])          # the network's input is the noise level √ᾱ
            a = (t * t)[:, None, None, None]
        else:
            t = torch.randint(0, cfg["T"], (x0.shape[0],))
            a = ab[t][:, None, None, None]
        eps = torch.randn_like(x0)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps          # forward process, Formulation 1
        if cfg["formulation"] == 2:
            x_t = x_t + cond                                  # Formulation 2: shifted by the conditioning image
        t_data += time.time() - td
        lr = _lr_at(step, cfg["lr"], cfg["warmup"])
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.mse_loss(model(x_t, t, cond), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        step += 1
        ema_update(ema, model, ema_decay(step, cfg["ema_decay"]))
        losses.append(loss.item())
        if step % 50 == 0:
            dt = time.time() - t0
            log.log(step=step, epoch=epoch, loss=float(np.mean(losses)), lr=lr, grad_norm=float(gnorm),
                    sec_per_step=dt / (step - last), data_frac=t_data / dt)
            losses, t_data, t0, last = [], 0.0, time.time(), step
        if step % cfg["ckpt_every"] == 0:
            save()
    save()
    log.log(event="saved", step=step)
    return ema


def load_refiner(ckpt_dir):
    ckpt = load_checkpoint(_ckpt_path(ckpt_dir, "refiner"))
    if ckpt is None:
        raise TrainError(f"no refiner checkpoint in {ckpt_dir}: train stage 2 first (train refiner)")
    model = build_unet(ckpt["config"])
    model.load_state_dict(ckpt["ema"])
    model.eval()
    return model, ckpt


def load_classifier(ckpt_dir):
    ckpt = load_checkpoint(_ckpt_path(ckpt_dir, "classifier"))
    if ckpt is None:
        raise TrainError(f"no classifier checkpoint in {ckpt_dir}: train it first (train classifier)")
    model = build_classifier(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt
