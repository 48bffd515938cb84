#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing:
# prometheus (prometheus + promtool), prometheus-alertmanager (amtool), chromium
# and chromium-driver (landing-page browser test), docker-compose (validates docker-compose.yaml)
# and openssl (certificates for the HTTPS tests).
set -euo pipefail

declare -A program_of=(
  [prometheus]=promtool
  [prometheus-alertmanager]=amtool
  [chromium]=chromium
  [chromium-driver]=chromedriver
  [docker-compose]=docker-compose
  [openssl]=openssl
)
missing=()
for package in "${!program_of[@]}"; do
  command -v "${program_of[$package]}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts packaged services where it can; the tests start their own on free ports.
for service in prometheus prometheus-alertmanager prometheus-node-exporter; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
done
