#!/usr/bin/env bash
# Everything outside npm that the project needs, from Debian's packages, installed only when missing:
# the trainer's (tools/train/setup.sh), nats-server (JetStream) for the platform and its tests, and chromium
# for the playground's browser tests (playwright-core drives it; test tools cannot download their own browsers).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/train/setup.sh"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then missing+=(nats-server); fi
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: installed ${missing[*]}"
fi
