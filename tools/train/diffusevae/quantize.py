"""Int8 static quantization (QDQ) of the refiner of a committed model set.

Calibration runs the real reverse process in PyTorch (the network rebuilt from the committed ONNX weights) on
stage-1 images from the VAE decoder, over the timesteps the samplers visit, and records the range of every
Conv's input and output with forward hooks on the nn.Conv2d modules (min/max plus a histogram for percentiles).
A held-out set (other images, other seeds) picks the range method by measuring the ε error of a fake-quantized
PyTorch network against fp32.

The graph edit wraps each Conv of refiner.onnx in QuantizeLinear/DequantizeLinear pairs:
  x -> Q(uint8) -> DQ -> Conv(DQ(int8 W, per output channel, symmetric), DQ(int32 bias, scale s_x*s_w)) -> Q -> DQ
which onnxruntime fuses into QLinearConv. Everything else stays float32 and the input/output names are kept.
"""
import json
import math
import os
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .export import sha256
from .onnx_weights import read_manifest, unet_from_model_set, vae_from_model_set
from .sampling import reverse_process, spaced_timesteps, torch_eps_fn

DEFAULT_SAMPLERS = [
    dict(kind="DPMPP_2M_SDE", steps=10, eta=0.0, temperature=1.0, varianceType="fixedlarge",
         timestepSpacing="trailing", clipSample=True),
    dict(kind="DDIM", steps=50, eta=1.0, temperature=1.0, varianceType="fixedlarge",
         timestepSpacing="leading", clipSample=True),
]
METHODS = ["minmax", "p99.999", "p99.99", "p99.9"]


class QuantizeError(Exception):
    pass


# ----------------------------------------------------------------------------- range statistics

class RangeStats:
    """min/max and a histogram symmetric about 0 whose range doubles (merging bin pairs) when a value falls outside."""

    def __init__(self, bins=8192):
        self.bins = bins
        self.min, self.max, self.count = math.inf, -math.inf, 0
        self.hist, self.R = None, None

    def add(self, t):
        t = t.detach().float().reshape(-1)
        mn, mx = float(t.min()), float(t.max())
        self.min, self.max, self.count = min(self.min, mn), max(self.max, mx), self.count + t.numel()
        a = max(abs(mn), abs(mx), 1e-6)
        if self.hist is None:
            self.R, self.hist = a, torch.zeros(self.bins, dtype=torch.float64)
        while a > self.R:
            merged = self.hist.view(-1, 2).sum(1)
            self.hist = torch.zeros(self.bins, dtype=torch.float64)
            self.hist[self.bins // 4: self.bins // 4 + self.bins // 2] = merged
            self.R *= 2
        self.hist += torch.histc(t, self.bins, -self.R, self.R).double()

    def range(self, method):
        if method == "minmax":
            lo, hi = self.min, self.max
        else:
            q = float(method[1:]) / 100.0
            cdf = torch.cumsum(self.hist, 0) / self.hist.sum()
            w = 2 * self.R / self.bins
            hi = -self.R + (int(torch.searchsorted(cdf, torch.tensor([q], dtype=torch.float64))) + 1) * w
            lo = -self.R + int(torch.searchsorted(cdf, torch.tensor([1 - q], dtype=torch.float64))) * w
            lo, hi = max(lo, self.min), min(hi, self.max)
        return min(lo, 0.0), max(hi, 0.0)   # zero must be exact (Conv zero padding uses the zero point)


def uint8_params(lo, hi):
    scale = max((hi - lo) / 255.0, 1e-8)
    zp = int(min(255, max(0, round(-lo / scale))))
    return float(np.float32(scale)), zp


def weight_params(w, qmax=127):
    """Per-output-channel symmetric int8: (scales [C], int8 weights)."""
    absmax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.maximum(absmax / qmax, 1e-12).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -qmax, qmax).astype(np.int8)
    return scale, q


# ----------------------------------------------------------------------------- ONNX Conv <-> nn.Conv2d

def conv_module_name(node, modules):
    """`/down.0.0/conv1/Conv` -> `down.0.0.conv1`; `/up.3/up.3.1/Conv` -> `up.3.1` (torch 1.13 scope names)."""
    scope = node.name.strip("/").split("/")[:-1]
    name = ""
    for seg in scope:
        if seg in modules and (name == "" or seg.startswith(name + ".")):
            name = seg
        elif name and f"{name}.{seg}" in modules:
            name = f"{name}.{seg}"
        else:
            raise QuantizeError(f"{node.name}: scope segment {seg!r} matches no module under {name!r}")
    return name


def match_convs(proto, unet):
    modules = dict(unet.named_modules())
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    matched = []
    for node in convs:
        name = conv_module_name(node, modules)
        mod = modules.get(name)
        if not isinstance(mod, torch.nn.Conv2d):
            raise QuantizeError(f"{node.name}: module {name!r} is not an nn.Conv2d")
        if node.input[1] != f"{name}.weight" or len(node.input) < 3 or node.input[2] != f"{name}.bias":
            raise QuantizeError(f"{node.name}: weight/bias initializers {list(node.input[1:])} do not belong to {name}")
        matched.append((node, name))
    n_modules = sum(isinstance(m, torch.nn.Conv2d) for m in modules.values())
    if len(matched) != n_modules or len({n for _, n in matched}) != n_modules:
        raise QuantizeError(f"{len(matched)} ONNX Convs but {n_modules} nn.Conv2d modules")
    return matched


# ----------------------------------------------------------------------------- calibration

def stage1_images(vae, n, seed):
    zd = vae.decoder.fc[0].in_features
    z = torch.from_numpy(np.stack([np.random.default_rng(seed + i).standard_normal(zd) for i in range(n)]).astype(np.float32))
    with torch.no_grad():
        return vae.decoder(z).numpy()


def run_trajectories(unet, cond, samplers, formulation, seed, batch=64, on_call=None, record=None, log=None):
    """Runs every sampler over `cond` in batches; `record` (a list) collects the network inputs of every call."""
    base = torch_eps_fn(unet)

    def eps_fn(x, t, c):
        if record is not None:
            record.append((x.copy(), t.copy(), c.copy()))
        out = base(x, t, c)
        if on_call is not None:
            on_call(int(t[0]))
        return out
    for s in samplers:
        settings = dict(s, formulation=formulation)
        for b0 in range(0, len(cond), batch):
            t0 = time.time()
            reverse_process(eps_fn, cond[b0:b0 + batch], seed + b0, settings)
            if log:
                log(f"  {s['kind']} {s['steps']} steps on images {b0}..{min(len(cond), b0 + batch) - 1}: {time.time() - t0:.0f}s")


def calibrate(unet, matched, cond, samplers, formulation, seed, bins=8192, log=None):
    """RangeStats per ONNX tensor name (every Conv input and output)."""
    stats = {}
    hooks = []
    modules = dict(unet.named_modules())
    for node, name in matched:
        for tensor, is_out in ((node.input[0], False), (node.output[0], True)):
            stats.setdefault(tensor, RangeStats(bins))

        def hook(mod, inp, out, xin=node.input[0], yout=node.output[0]):
            stats[xin].add(inp[0])
            stats[yout].add(out)
        hooks.append(modules[name].register_forward_hook(hook))
    calls = []
    try:
        run_trajectories(unet, cond, samplers, formulation, seed, on_call=calls.append, log=log)
    finally:
        for h in hooks:
            h.remove()
    return stats, sorted(set(calls), reverse=True)


def save_stats(stats, timesteps, path, key=None):
    torch.save({"key": key, "timesteps": timesteps, "stats": {k: vars(v) for k, v in stats.items()}}, path)


def load_stats(path, key=None):
    """(stats, timesteps), or None when the file was made for another refiner/calibration (`key` differs)."""
    blob = torch.load(path)
    if key is not None and blob.get("key") != key:
        return None
    stats = {}
    for k, v in blob["stats"].items():
        s = RangeStats(v["bins"])
        s.__dict__.update(v)
        stats[k] = s
    return stats, blob["timesteps"]


def quant_params(stats, method):
    return {name: uint8_params(*s.range(method)) for name, s in stats.items()}


class FakeQuant:
    """Simulates the QDQ graph in PyTorch (uint8 activations, int8 per-channel weights, int32 bias)."""

    def __init__(self, unet, matched, act_params, quantize_output=True, wmax=127, exclude=()):
        self.unet, self.hooks, self.saved = unet, [], {}
        modules = dict(unet.named_modules())
        last = matched[-1][0].output[0]
        for node, name in matched:
            if name in exclude:
                continue
            mod = modules[name]
            sx, zx = act_params[node.input[0]]
            sy, zy = act_params[node.output[0]]
            w = mod.weight.detach().numpy()
            sw, wq = weight_params(w, wmax)
            bq = np.round(mod.bias.detach().numpy() / (sx * sw)).astype(np.int64) * (sx * sw)
            self.saved[name] = (mod.weight.data.clone(), mod.bias.data.clone())
            mod.weight.data = torch.from_numpy((wq.astype(np.float32) * sw.reshape(-1, 1, 1, 1)).astype(np.float32))
            mod.bias.data = torch.from_numpy(bq.astype(np.float32))
            self.hooks.append(mod.register_forward_pre_hook(
                lambda m, inp, s=sx, z=zx: (torch.fake_quantize_per_tensor_affine(inp[0], s, z, 0, 255),)))
            if quantize_output or node.output[0] != last:
                self.hooks.append(mod.register_forward_hook(
                    lambda m, inp, out, s=sy, z=zy: torch.fake_quantize_per_tensor_affine(out, s, z, 0, 255)))

    def close(self):
        modules = dict(self.unet.named_modules())
        for h in self.hooks:
            h.remove()
        for name, (w, b) in self.saved.items():
            modules[name].weight.data, modules[name].bias.data = w, b


@torch.no_grad()
def eps_error(unet, inputs, fake=None):
    """(relative RMS error, max abs error) of ε over recorded network inputs, fp32 vs the current (fake-quant) net."""
    num = den = 0.0
    mx = 0.0
    for x, t, c, ref in inputs:
        out = unet(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(c)).numpy()
        d = out.astype(np.float64) - ref
        num += float((d ** 2).sum())
        den += float((ref ** 2).sum())
        mx = max(mx, float(np.abs(d).max()))
    return math.sqrt(num / den), mx


# ----------------------------------------------------------------------------- graph edit

def qdq_graph(proto, matched, act_params, quantize_output=True, wmax=127, exclude=(), per_channel=True):
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    new_inits, new_nodes = [], []
    dq_of = {}          # float tensor name -> name of its DequantizeLinear output (shared by later Convs)
    renamed_out = {}    # conv output -> (pre-quant name)
    conv_by_name = {id(node): name for node, name in matched if name not in exclude}
    last = matched[-1][0].output[0]

    def scalar(name, value, dtype):
        if name not in {i.name for i in new_inits}:
            new_inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
        return name

    def qparams(tensor):
        s, z = act_params[tensor]
        return scalar(f"{tensor}_scale", s, np.float32), scalar(f"{tensor}_zero_point", z, np.uint8)

    for node in g.node:
        if id(node) not in conv_by_name:
            new_nodes.append(node)
            continue
        name = conv_by_name[id(node)]
        x, wname, bname = node.input[0], node.input[1], node.input[2]
        y = node.output[0]
        # activation input
        if x in dq_of:
            x_dq = dq_of[x]
        else:
            s, z = qparams(x)
            new_nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [f"{x}_quantized"], name=f"{x}_QuantizeLinear"))
            x_dq = f"{x}_dequantized"
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{x}_quantized", s, z], [x_dq],
                                              name=f"{x}_DequantizeLinear"))
            dq_of[x] = x_dq
        # weight: int8 per output channel, symmetric
        w = numpy_helper.to_array(inits[wname]).astype(np.float32)
        b = numpy_helper.to_array(inits[bname]).astype(np.float32)
        if per_channel:
            sw, wq = weight_params(w, wmax)
        else:   # one scale for the tensor (kept as a 1-element-per-channel array for the bias arithmetic)
            s1, wq = weight_params(w.reshape(1, -1), wmax)
            sw, wq = np.full(w.shape[0], s1[0], np.float32), wq.reshape(w.shape)
        sx = act_params[x][0]
        new_inits += [numpy_helper.from_array(wq, f"{wname}_quantized"),
                      numpy_helper.from_array(sw if per_channel else sw[0], f"{wname}_scale"),
                      numpy_helper.from_array(np.zeros(len(sw), np.int8) if per_channel else np.int8(0), f"{wname}_zero_point")]
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{wname}_quantized", f"{wname}_scale", f"{wname}_zero_point"],
                                          [f"{wname}_dequantized"], name=f"{wname}_DequantizeLinear",
                                          **({"axis": 0} if per_channel else {})))
        bs = (np.float32(sx) * sw).astype(np.float32)
        bq = np.clip(np.round(b / bs), -2 ** 31, 2 ** 31 - 1).astype(np.int32)
        new_inits += [numpy_helper.from_array(bq, f"{bname}_quantized"),
                      numpy_helper.from_array(bs, f"{bname}_scale"),
                      numpy_helper.from_array(np.zeros(len(bs), np.int32), f"{bname}_zero_point")]
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{bname}_quantized", f"{bname}_scale", f"{bname}_zero_point"],
                                          [f"{bname}_dequantized"], name=f"{bname}_DequantizeLinear", axis=0))
        conv = helper.make_node("Conv", [x_dq, f"{wname}_dequantized", f"{bname}_dequantized"], [y], name=node.name)
        conv.attribute.extend(node.attribute)
        if quantize_output or y != last:
            conv.output[0] = f"{y}_float"
            new_nodes.append(conv)
            s, z = qparams(y)
            new_nodes.append(helper.make_node("QuantizeLinear", [f"{y}_float", s, z], [f"{y}_quantized"],
                                              name=f"{y}_QuantizeLinear"))
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{y}_quantized", s, z], [y],
                                              name=f"{y}_DequantizeLinear"))
            dq_of[y] = y
        else:
            new_nodes.append(conv)
    used = {i for n in new_nodes for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(keep + [i for i in new_inits if i.name in used])
    del g.value_info[:]
    onnx.checker.check_model(proto)
    return proto


# ----------------------------------------------------------------------------- entry point

def quantize_refiner(model_dir, out_name="refiner-int8.onnx", images=64, seed=1000, holdout_images=8,
                     holdout_seed=5000, samplers=None, methods=None, method=None, quantize_output=None,
                     exclude=None, stats_cache=None, write_manifest=True, log=print):
    from .train import build_unet
    samplers = samplers or DEFAULT_SAMPLERS
    methods = methods or METHODS
    t_start = time.time()
    unet, cfg, manifest = unet_from_model_set(model_dir, build_unet)
    vae, _ = vae_from_model_set(model_dir)
    src = os.path.join(model_dir, manifest["files"]["refiner"]["path"])
    proto = onnx.load(src)
    matched = match_convs(proto, unet)
    log(f"matched all {len(matched)} ONNX Convs to nn.Conv2d modules")
    formulation = cfg["formulation"]

    # the cache is only reused for the same fp32 refiner, images, seed and samplers
    key = json.dumps([manifest["files"]["refiner"]["sha256"], images, seed, samplers], sort_keys=True)
    cached = load_stats(stats_cache, key) if stats_cache and os.path.isfile(stats_cache) else None
    if cached:
        stats, timesteps = cached
        log(f"calibration statistics from {stats_cache}")
    else:
        cond = stage1_images(vae, images, seed)
        stats, timesteps = calibrate(unet, matched, cond, samplers, formulation, seed, log=log)
        if stats_cache:
            save_stats(stats, timesteps, stats_cache, key)
    log(f"calibrated {len(stats)} tensors on {images} images x {len(samplers)} samplers "
        f"({len(timesteps)} distinct timesteps) in {time.time() - t_start:.0f}s")

    # held-out inputs: other images and seeds, the same samplers; every 3rd call to keep it quick
    record = []
    run_trajectories(unet, stage1_images(vae, holdout_images, holdout_seed), samplers, formulation, holdout_seed,
                     batch=holdout_images, record=record)
    ref = torch_eps_fn(unet)
    holdout = [(x, t, c, ref(x, t, c).astype(np.float64)) for x, t, c in record[::3]]

    results = {}

    def evaluate(m, qo, ex):
        fq = FakeQuant(unet, matched, quant_params(stats, m), quantize_output=qo, exclude=ex)
        try:
            results[(m, qo, ex)] = eps_error(unet, holdout)
        finally:
            fq.close()
        log(f"  {m:8s} eps output quantized={str(qo):5s} float Convs={list(ex)}: eps rel RMS error "
            f"{results[(m, qo, ex)][0]:.4f}, max abs {results[(m, qo, ex)][1]:.3f} "
            f"(fake-quant PyTorch, {len(holdout)} held-out calls)")
    # the range method first, then whether quantizing the eps output and conv_in (the raw x_t) costs accuracy
    qo0 = False if quantize_output is None else quantize_output
    ex0 = tuple(exclude) if exclude is not None else ()
    for m in ([method] if method else methods):
        evaluate(m, qo0, ex0)
    best_m = min(results, key=lambda k: results[k][0])[0]
    if quantize_output is None:
        evaluate(best_m, True, ex0)
    if exclude is None:
        evaluate(best_m, qo0, ("conv_in",))
    best_m, best_qo, best_ex = min(results, key=lambda k: results[k][0])
    log(f"chose {best_m}, quantize eps output={best_qo}, float Convs={list(best_ex)}")

    act = quant_params(stats, best_m)
    qdq_graph(proto, matched, act, quantize_output=best_qo, exclude=best_ex)
    out_path = os.path.join(model_dir, out_name)
    onnx.save(proto, out_path)
    log(f"wrote {out_path} ({os.path.getsize(out_path) / 1e6:.2f} MB; fp32 {os.path.getsize(src) / 1e6:.2f} MB)")

    entry = {
        "path": out_name, "sha256": sha256(out_path), "inputs": ["x_t", "t", "cond"], "outputs": ["eps"],
        "bytes": os.path.getsize(out_path), "precision": "int8",
        "calibration": {
            "samplers": [f"{s['kind']} {s['steps']} steps {s['timestepSpacing']}" + (f" eta={s['eta']}" if s["kind"] == "DDIM" else "")
                         for s in samplers],
            "images": images, "timesteps": len(timesteps), "method": best_m,
            "scheme": "QDQ: uint8 asymmetric activations (per tensor), int8 symmetric per-channel weights, int32 bias; "
                      + "every Conv input and output" + ("" if best_qo else " except eps")
                      + (f"; float: {', '.join(best_ex)}" if best_ex else ""),
            "heldOutEpsRelRmsError": round(results[(best_m, best_qo, best_ex)][0], 5),
        },
    }
    if write_manifest:
        man = read_manifest(model_dir)
        man["files"]["refinerInt8"] = entry
        with open(os.path.join(model_dir, "manifest.json"), "w") as f:
            json.dump(man, f, indent=2)
            f.write("\n")
        log(f"updated {os.path.join(model_dir, 'manifest.json')} (files.refinerInt8)")
    return entry, results
