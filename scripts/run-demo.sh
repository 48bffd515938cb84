#!/usr/bin/env bash
# make run: the simulated shop floor on $2 and the exporter following it on $3.
set -euo pipefail
bin=$1 simulator_address=$2 exporter_address=$3 speed=$4

"$bin/factorydash-simulator" --web.listen-address "$simulator_address" --speed "$speed" &
simulator=$!
trap 'kill $simulator 2>/dev/null || true' EXIT INT TERM

echo
echo "  simulated shop floor (an MTConnect agent): http://$simulator_address/current"
echo "  exporter landing page:                     http://$exporter_address/"
echo "  Prometheus metrics:                        http://$exporter_address/metrics"
echo "  stop with Ctrl-C"
echo
"$bin/factorydash-exporter" --agent "shopfloor=http://$simulator_address/" --web.listen-address "$exporter_address"
