#!/bin/sh
# Starts one process of the platform, chosen by SERVICE: encoder, vae-decoder, refiner, scheduler or gateway, from
# its bundle (dist/<service>/main.mjs, `npm run build`). Its other settings come from the environment
# (libs/service-kit/README.md, services/gateway/README.md).
# Arguments, when given, run instead: `keys …` is the API-keys CLI (`docker compose run --rm gateway keys create
# --name ops`), anything else runs as it is (`docker run --rm -it diffusevae sh`).
set -eu
app="${APP_DIR:-/app}"
if [ "$#" -gt 0 ]; then
  if [ "$1" = keys ]; then
    shift
    exec node --enable-source-maps "$app/dist/keys/main.mjs" "$@"
  fi
  exec "$@"
fi
services() {
  for main in "$app"/dist/*/main.mjs; do
    name="${main%/main.mjs}"
    name="${name##*/}"
    [ "$name" = keys ] || printf '%s ' "$name"
  done
}
case "${SERVICE:-}" in
  '')
    echo "entrypoint: set SERVICE to one of: $(services)" >&2
    exit 64
    ;;
  keys | */* | .*)
    echo "entrypoint: SERVICE=$SERVICE is not a service; one of: $(services)" >&2
    exit 64
    ;;
esac
main="$app/dist/$SERVICE/main.mjs"
if [ ! -f "$main" ]; then
  echo "entrypoint: unknown SERVICE=$SERVICE; one of: $(services)" >&2
  exit 64
fi
cd "$app"
# One process (no wrapper): node receives SIGTERM itself, and the service drains and exits 0.
exec node --enable-source-maps "$main"
