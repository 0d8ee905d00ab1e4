#!/usr/bin/env bash
# Everything outside npm that the project needs, from Debian's packages, installed only when missing:
# the trainer's (tools/train/setup.sh) and nats-server (JetStream) for the platform and its tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/train/setup.sh"
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "setup: installing nats-server from Debian's packages"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nats-server >/dev/null
  echo "setup: installed nats-server"
fi
