#!/usr/bin/env bash
# make run: the simulated shop floor on $2 and the exporter following it on $3, planned with the
# demo plant's shifts, breaks and ideal cycle times (deploy/factorydash-demo.yml, the same file the
# docker compose demo uses, pointed at the local simulator).
set -euo pipefail
bin=$1 simulator_address=$2 exporter_address=$3 speed=$4
here=$(cd "$(dirname "$0")/.." && pwd)

config=$(mktemp "${TMPDIR:-/tmp}/factorydash-demo.XXXXXX.yml")
sed "s#http://simulator:5000/#http://$simulator_address/#" "$here/deploy/factorydash-demo.yml" > "$config"

"$bin/factorydash-simulator" --web.listen-address "$simulator_address" --speed "$speed" &
simulator=$!
trap 'kill $simulator 2>/dev/null || true; rm -f "$config"' EXIT INT TERM

echo
echo "  simulated shop floor (an MTConnect agent): http://$simulator_address/current"
echo "  (two shifts 06:00-14:00 and 14:00-22:00 Europe/Berlin on weekdays, a 30-minute break each;"
echo "   outside them the machines stand idle)"
echo "  exporter landing page:                     http://$exporter_address/"
echo "  Prometheus metrics:                        http://$exporter_address/metrics"
echo "  stop with Ctrl-C"
echo
"$bin/factorydash-exporter" --config.file "$config" --web.listen-address "$exporter_address"
