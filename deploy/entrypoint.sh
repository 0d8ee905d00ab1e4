#!/bin/sh
# Starts one process of the platform, chosen by SERVICE: encoder, vae-decoder, refiner, scheduler or gateway.
# Its other settings come from the environment (libs/service-kit/README.md, services/gateway/README.md).
# Arguments, when given, run instead: `docker run --rm -it diffusevae sh`.
set -eu
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
cd "${APP_DIR:-/app}"
if [ -z "${SERVICE:-}" ]; then
  echo "entrypoint: set SERVICE to one of: $(cd services && echo *)" >&2
  exit 64
fi
main="services/$SERVICE/src/main.ts"
if [ ! -f "$main" ]; then
  echo "entrypoint: unknown SERVICE=$SERVICE; one of: $(cd services && echo *)" >&2
  exit 64
fi
# One process (no tsx CLI wrapper, no npx): node receives SIGTERM itself, and the service drains and exits 0.
exec node --import tsx "$main"
