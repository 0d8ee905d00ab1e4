"""ONNX export (dynamic batch axis) of the four networks and the model-set manifest."""
import datetime
import hashlib
import json
import os
import shutil

import torch

from .models import ClassifierFeatures, count_flops, param_count
from .train import load_classifier, load_refiner, load_vae

OPSET = 17


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _export(module, args, path, input_names, output_names):
    dyn = {name: {0: "batch"} for name in input_names + output_names}
    torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names, dynamic_axes=dyn,
                      opset_version=OPSET, do_constant_folding=True)


def _public(cfg):
    return {k: v for k, v in cfg.items() if k not in ("data_dir",)}


def refiner_inputs(cfg):
    """The refiner's input names: the second is the integer timestep, or the noise level √ᾱ when continuous."""
    continuous = cfg.get("noise_conditioning", "discrete") == "continuous"
    return ["x_t", "noise_level" if continuous else "t", "cond"]


def _export_finetuned(ckpt_dir, out_dir, name, unet, ref_ckpt):
    """A refiner fine-tuned from another set (--init-from) shares that set's stage 1 and classifier: their files
    are copied byte for byte (same sha256) and their manifest sections kept."""
    from .onnx_weights import read_manifest
    rcfg = ref_ckpt["config"]
    base_dir = rcfg["init_from"]
    base = read_manifest(base_dir)
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for role in ("encoder", "decoder", "classifier"):
        src = os.path.join(base_dir, base["files"][role]["path"])
        dst = os.path.join(out_dir, base["files"][role]["path"])
        if os.path.abspath(src) != os.path.abspath(dst):
            shutil.copyfile(src, dst)
        files[role] = dict(base["files"][role])
    x = torch.zeros(2, rcfg["channels"], rcfg["resolution"], rcfg["resolution"])
    path = os.path.join(out_dir, "refiner.onnx")
    ins = refiner_inputs(rcfg)
    unet.eval()
    _export(unet, (x, unet.probe_level(2), x), path, ins, ["eps"])
    files["refiner"] = {"path": "refiner.onnx", "sha256": sha256(path), "inputs": ins, "outputs": ["eps"], "bytes": os.path.getsize(path)}
    print(f"exported refiner: {path} ({files['refiner']['bytes'] / 1e6:.2f} MB)", flush=True)
    probe = torch.zeros(1, rcfg["channels"], rcfg["resolution"], rcfg["resolution"])
    manifest = {k: v for k, v in base.items() if k not in ("files", "training", "schedule", "refiner")}
    manifest.update({
        "name": name,
        "createdAt": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "schedule": {**base["schedule"], "formulation": rcfg["formulation"],
                     "noiseConditioning": rcfg.get("noise_conditioning", "discrete")},
        "refiner": {"params": param_count(unet), "weights": "ema",
                    "gflopPerImageStep": round(count_flops(unet, probe, unet.probe_level(1), probe) / 1e9, 4),
                    "finetunedFrom": {"name": base["name"], "sha256": base["files"]["refiner"]["sha256"],
                                      "trainedSteps": base["training"]["refiner"].get("trainedSteps")}},
        "training": {**base["training"], "refiner": {**_public(rcfg), "trainedSteps": ref_ckpt["step"]}},
        "files": {r: files[r] for r in ("encoder", "decoder", "refiner", "classifier")},
    })
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.join(out_dir, 'manifest.json')}", flush=True)
    return manifest


def export_all(ckpt_dir, out_dir, name="fmnist", golden_dir=None):
    os.makedirs(out_dir, exist_ok=True)
    unet, ref_ckpt = load_refiner(ckpt_dir)
    if ref_ckpt["config"].get("init_from"):
        manifest = _export_finetuned(ckpt_dir, out_dir, name, unet, ref_ckpt)
        if golden_dir:
            from .golden import write_golden
            write_golden(out_dir, ckpt_dir, golden_dir, refiner=(unet, ref_ckpt))
        return manifest
    vae, vae_ckpt = load_vae(ckpt_dir)
    clf, clf_ckpt = load_classifier(ckpt_dir)
    vcfg, rcfg, ccfg = vae_ckpt["config"], ref_ckpt["config"], clf_ckpt["config"]
    res, ch, zd = vcfg["resolution"], vcfg["channels"], vcfg["z_dim"]
    x = torch.zeros(2, ch, res, res)
    files = {
        "encoder": ("encoder.onnx", vae.encoder, (x,), ["x"], ["mu", "logvar"]),
        "decoder": ("decoder.onnx", vae.decoder, (torch.zeros(2, zd),), ["z"], ["x_hat"]),
        "refiner": ("refiner.onnx", unet, (x, unet.probe_level(2), x), refiner_inputs(rcfg), ["eps"]),
        "classifier": ("classifier.onnx", ClassifierFeatures(clf), (x,), ["x"], ["features"]),
    }
    manifest_files = {}
    for role, (fname, module, args, ins, outs) in files.items():
        module.eval()
        path = os.path.join(out_dir, fname)
        _export(module, args, path, ins, outs)
        manifest_files[role] = {"path": fname, "sha256": sha256(path), "inputs": ins, "outputs": outs,
                                "bytes": os.path.getsize(path)}
        print(f"exported {role}: {path} ({manifest_files[role]['bytes'] / 1e6:.2f} MB)", flush=True)
    probe = torch.zeros(1, ch, res, res)
    manifest = {
        "name": name,
        "formatVersion": 1,
        "createdAt": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": "fashion-mnist",
        "image": {"resolution": res, "channels": ch, "range": [-1, 1]},
        "latent": {"dim": zd},
        "schedule": {"numTrainTimesteps": rcfg["T"], "betaSchedule": "linear", "betaStart": rcfg["beta_start"],
                     "betaEnd": rcfg["beta_end"], "predictionType": "epsilon", "formulation": rcfg["formulation"],
                     "noiseConditioning": rcfg.get("noise_conditioning", "discrete")},
        "refiner": {"params": param_count(unet), "weights": "ema",
                    "gflopPerImageStep": round(count_flops(unet, probe, unet.probe_level(1), probe) / 1e9, 4)},
        "classifier": {"featureDim": ccfg["feature_dim"], "testAccuracy": clf_ckpt.get("test_accuracy")},
        "training": {
            "vae": {**_public(vcfg), "trainedSteps": vae_ckpt["step"]},
            "refiner": {**_public(rcfg), "trainedSteps": ref_ckpt["step"]},
            "classifier": {**_public(ccfg), "trainedSteps": clf_ckpt["step"]},
        },
        "files": manifest_files,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.join(out_dir, 'manifest.json')}", flush=True)
    if golden_dir:
        from .golden import write_golden
        write_golden(out_dir, ckpt_dir, golden_dir, refiner=(unet, ref_ckpt))
    return manifest
