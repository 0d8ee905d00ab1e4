"""PyTorch networks from a committed model set: the ONNX files hold every weight, so a new user can fine-tune,
benchmark or sample in PyTorch without the trainer's checkpoints (which are not in the repository).

Most initializers keep their state_dict names. GroupNorm is the exception: the exporter writes it as
InstanceNormalization between two Reshapes followed by Mul(γ) and Add(β) with anonymous initializers
(`onnx::Mul_N`), so those are matched to the GroupNorm modules in the order the forward pass runs them.
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .models import VAE, UNet


class WeightsError(Exception):
    pass


def _initializers(path):
    m = onnx.load(path)
    return m, {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def _group_norm_params(model_proto, inits):
    """(γ, β) of each exported GroupNorm, in graph order: InstanceNormalization → Reshape → Mul → Add."""
    consumers = {}
    for node in model_proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out = []
    for node in model_proto.graph.node:
        if node.op_type != "InstanceNormalization":
            continue
        (reshape,) = consumers[node.output[0]]
        (mul,) = consumers[reshape.output[0]]
        (add,) = consumers[mul.output[0]]
        if reshape.op_type != "Reshape" or mul.op_type != "Mul" or add.op_type != "Add":
            raise WeightsError(f"GroupNorm after {node.name} is not Reshape/Mul/Add ({reshape.op_type}/{mul.op_type}/{add.op_type})")
        gamma = next(inits[n] for n in mul.input if n in inits)
        beta = next(inits[n] for n in add.input if n in inits)
        out.append((gamma.reshape(-1), beta.reshape(-1)))
    return out


def _norms_in_call_order(module, *probe):
    order = []
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: order.append(name))
             for name, m in module.named_modules() if isinstance(m, torch.nn.GroupNorm)]
    with torch.no_grad():
        module(*probe)
    for h in hooks:
        h.remove()
    return order


def load_state(module, onnx_path, probe):
    """Fill `module` with the weights of `onnx_path` (same architecture); every parameter must be found."""
    proto, inits = _initializers(onnx_path)
    state = module.state_dict()
    new = {}
    norms = _norms_in_call_order(module, *probe)
    gn = _group_norm_params(proto, inits)
    if len(gn) != len(norms):
        raise WeightsError(f"{onnx_path}: {len(gn)} exported GroupNorms but the network has {len(norms)}")
    for name, (g, b) in zip(norms, gn):
        new[f"{name}.weight"], new[f"{name}.bias"] = g, b
    for key in state:
        if key in new:
            continue
        if key not in inits:
            raise WeightsError(f"{onnx_path}: no initializer for {key}; is it the same architecture?")
        new[key] = inits[key]
    for key, value in new.items():
        if tuple(value.shape) != tuple(state[key].shape):
            raise WeightsError(f"{onnx_path}: {key} has shape {tuple(value.shape)}, the network {tuple(state[key].shape)}")
    module.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in new.items()})
    return module


def read_manifest(model_dir):
    path = os.path.join(model_dir, "manifest.json")
    if not os.path.isfile(path):
        raise WeightsError(f"{model_dir}: no manifest.json (expected an exported model set such as models/fmnist)")
    with open(path) as f:
        return json.load(f)


def _file(model_dir, manifest, role):
    return os.path.join(model_dir, manifest["files"][role]["path"])


def vae_from_model_set(model_dir):
    """The stage-1 VAE of a committed model set, in eval mode, with its training config."""
    man = read_manifest(model_dir)
    cfg = dict(man["training"]["vae"])
    vae = VAE(cfg["channels"], cfg["resolution"], cfg["z_dim"], cfg["width"])
    x = torch.zeros(2, cfg["channels"], cfg["resolution"], cfg["resolution"])
    load_state(vae.encoder, _file(model_dir, man, "encoder"), (x,))
    load_state(vae.decoder, _file(model_dir, man, "decoder"), (torch.zeros(2, cfg["z_dim"]),))
    return vae.eval(), cfg


def unet_from_model_set(model_dir, build):
    """The refiner of a committed model set: `build(cfg)` makes the network from the manifest's training config."""
    man = read_manifest(model_dir)
    cfg = dict(man["training"]["refiner"])
    unet = build(cfg)
    x = torch.zeros(2, cfg["channels"], cfg["resolution"], cfg["resolution"])
    load_state(unet, _file(model_dir, man, "refiner"), (x, unet.probe_level(2), x))
    return unet.eval(), cfg, man
