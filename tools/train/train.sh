#!/usr/bin/env bash
# Runs the trainer with Debian's python3 (the one python3-torch installs into), installing it first if needed.
#   bash tools/train/train.sh train all            # stage 1, classifier, stage 2 (resumable; Ctrl-C saves)
#   bash tools/train/train.sh export --out models/fmnist --golden tools/train/golden/fmnist
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
if ! "$PYTHON" -c "import torch, numpy, onnx" 2>/dev/null || [ ! -d /usr/share/datasets/fashion-mnist ]; then
  bash "$here/setup.sh"
fi
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -u -m diffusevae "$@"
