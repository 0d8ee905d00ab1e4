#!/usr/bin/env bash
# Everything outside npm that the project needs, from Debian's packages, installed only when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/train/setup.sh"
