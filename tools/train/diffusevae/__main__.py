"""Command line: python3 -m diffusevae <command> [flags]. `--help` on any command lists its flags."""
import argparse
import os
import sys

DEFAULT_CKPT_DIR = os.environ.get("DIFFUSEVAE_CKPT_DIR", os.path.join(os.path.dirname(__file__), "..", ".checkpoints"))


def _ints(s):
    try:
        return [int(v) for v in s.split(",") if v != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}")


def _positive(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def add_common(p):
    p.add_argument("--ckpt-dir", default=DEFAULT_CKPT_DIR, help="checkpoints and logs (git-ignored); default %(default)s "
                   "or $DIFFUSEVAE_CKPT_DIR")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST idx files (default $FMNIST_DIR or Debian's path)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-data", type=_positive, default=None, help="use only the first N training images (smoke runs)")
    p.add_argument("--threads", type=_positive, default=None, help="torch CPU threads (default: every core; Debian's torch "
                   "would otherwise use one)")


def add_vae(p):
    p.add_argument("--z-dim", type=_positive, default=32)
    p.add_argument("--vae-width", type=_positive, default=32)
    p.add_argument("--vae-batch", type=_positive, default=128)
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--vae-steps", type=_positive, default=2000)
    p.add_argument("--kl-weight", type=float, default=1.0)


def add_classifier(p):
    p.add_argument("--clf-width", type=_positive, default=32)
    p.add_argument("--feature-dim", type=_positive, default=128)
    p.add_argument("--clf-batch", type=_positive, default=128)
    p.add_argument("--clf-lr", type=float, default=2e-3)
    p.add_argument("--clf-steps", type=_positive, default=1500)


def add_refiner(p):
    p.add_argument("--unet-base", type=_positive, default=32)
    p.add_argument("--unet-mults", type=_ints, default=[1, 2, 2])
    p.add_argument("--unet-res-blocks", type=_positive, default=2)
    p.add_argument("--unet-attn-levels", type=_ints, default=[2])
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--formulation", type=int, choices=[1, 2], default=1)
    p.add_argument("--noise-conditioning", choices=["discrete", "continuous"], default="discrete",
                   help="condition the refiner on the integer timestep or on the continuous noise level √ᾱ")
    p.add_argument("--init-from", default=None, help="fine-tune: start the refiner from this committed model set "
                   "(e.g. models/fmnist) and condition on its VAE")
    p.add_argument("--batch", type=_positive, default=64)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--steps", type=_positive, default=200000, help="total steps; a stopped run resumes toward it")
    p.add_argument("--ckpt-every", type=_positive, default=200)


def parser():
    ap = argparse.ArgumentParser(prog="diffusevae", description="Train and export DiffuseVAE on Fashion-MNIST.")
    sub = ap.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train one stage or all of them in order (vae, classifier, refiner)")
    tr.add_argument("stage", choices=["vae", "classifier", "refiner", "all"])
    add_common(tr); add_vae(tr); add_classifier(tr); add_refiner(tr)
    ex = sub.add_parser("export", help="write ONNX files and manifest.json from the checkpoints")
    ex.add_argument("--out", required=True, help="model-set folder to write (e.g. models/fmnist)")
    ex.add_argument("--name", default="fmnist")
    ex.add_argument("--golden", default=None, help="also write golden files for the parity tests to this folder")
    add_common(ex)
    go = sub.add_parser("golden", help="write golden files for the TypeScript parity tests (tools/train/golden/<set>) "
                        "from the checkpoints a set was exported from, without exporting it again; refused when the "
                        "set's refiner.onnx does not hold the checkpoint's weights")
    go.add_argument("--model-dir", required=True, help="an exported model set (e.g. models/fmnist-cont)")
    go.add_argument("--out", required=True, help="folder for golden JSON files")
    add_common(go)
    gs = sub.add_parser("golden-sampling", help="write the model-free golden file of inference-schedule and noise-level "
                        "loops (tools/train/golden/sampling.json) for libs/schedulers' parity test")
    gs.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden",
                                                  "sampling.json"), help="file to write")
    add_common(gs)
    sm = sub.add_parser("sample", help="sample with the PyTorch model (reference loop, used by the benchmark)")
    sm.add_argument("--count", type=_positive, default=16)
    sm.add_argument("--steps", type=_positive, default=50)
    sm.add_argument("--sampler", choices=["ddpm", "ddim"], default="ddim")
    sm.add_argument("--model-dir", default=None, help="the weights of a committed model set (e.g. models/fmnist) "
                    "instead of the checkpoints in --ckpt-dir")
    add_common(sm)
    qz = sub.add_parser("quantize", help="write an int8 (QDQ) refiner calibrated on sampling trajectories")
    qz.add_argument("--model-dir", required=True, help="an exported model set (e.g. models/fmnist)")
    qz.add_argument("--out-name", default="refiner-int8.onnx")
    qz.add_argument("--images", type=_positive, default=64, help="stage-1 calibration images")
    qz.add_argument("--method", choices=["minmax", "p99.999", "p99.99", "p99.9"], default=None,
                    help="activation range method (default: the best on a held-out set)")
    add_common(qz)
    rp = sub.add_parser("report", help="write a training summary (markdown) from the logs")
    rp.add_argument("--out", required=True, help="e.g. docs/training.md")
    add_common(rp)
    return ap


def _check_dirs(args):
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        sys.exit(f"diffusevae: --data-dir {args.data_dir!r} is not a directory")
    if os.path.exists(args.ckpt_dir) and not os.path.isdir(args.ckpt_dir):
        sys.exit(f"diffusevae: --ckpt-dir {args.ckpt_dir!r} exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(args.ckpt_dir))
    if not os.path.isdir(parent):
        sys.exit(f"diffusevae: --ckpt-dir {args.ckpt_dir!r}: parent folder {parent!r} does not exist")


def main(argv=None):
    args = parser().parse_args(argv)
    _check_dirs(args)
    try:
        import torch
    except ImportError:
        sys.exit("diffusevae: PyTorch is missing; run tools/train/setup.sh (installs Debian's python3-torch) "
                 "and use /usr/bin/python3")
    # Debian's python3-torch starts with one intra-op thread; ask for every core unless told otherwise
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    from .data import DataError
    from .train import TrainError
    try:
        if args.command == "train":
            os.makedirs(args.ckpt_dir, exist_ok=True)
            from .common import StopFlag
            from . import train as T
            stop = StopFlag()
            if args.stage in ("vae", "all"):
                T.train_vae(T.vae_config(args), args.ckpt_dir, stop)
            if args.stage in ("classifier", "all") and not stop.stop:
                T.train_classifier(T.classifier_config(args), args.ckpt_dir, stop)
            if args.stage in ("refiner", "all") and not stop.stop:
                T.train_refiner(T.refiner_config(args), args.ckpt_dir, stop)
        elif args.command == "export":
            from .export import export_all
            export_all(args.ckpt_dir, args.out, args.name, args.golden)
        elif args.command == "golden":
            from .golden import write_golden
            write_golden(args.model_dir, args.ckpt_dir, args.out)
        elif args.command == "golden-sampling":
            from .golden import write_sampling_golden
            write_sampling_golden(args.out)
        elif args.command == "report":
            from .report import write_report
            write_report(args.ckpt_dir, args.out, "npm run train -- report --out " + args.out)
        elif args.command == "quantize":
            from .quantize import quantize_refiner
            quantize_refiner(args.model_dir, args.out_name, images=args.images, method=args.method,
                             stats_cache=os.path.join(args.ckpt_dir, f"quantize-stats-{args.images}.pt"))
        elif args.command == "sample":
            from .sampling import sample_cli
            sample_cli(args)
    except (DataError, TrainError) as e:
        sys.exit(f"diffusevae: {e}")


if __name__ == "__main__":
    main()
