#!/usr/bin/env bash
# Installs what the trainer needs from Debian's packages when it is missing, and says what it does.
# PyPI is not used: torch, numpy and onnx come from Debian (python3-torch 1.13 on bookworm), the data
# from dataset-fashion-mnist. libopenblas0-pthread matters: without it matrix products run ~35x slower.
set -euo pipefail
PACKAGES=(python3-torch python3-numpy python3-onnx libopenblas0-pthread dataset-fashion-mnist)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "train setup: all present (${PACKAGES[*]})"
  exit 0
fi
echo "train setup: installing ${missing[*]} from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "train setup: not root and no sudo; run as root: apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "train setup: installed ${missing[*]}"
