#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing:
# prometheus (prometheus + promtool), prometheus-alertmanager (amtool), chromium
# and chromium-driver (landing-page browser test), docker-compose (validates docker-compose.yaml),
# openssl (certificates for the HTTPS tests), victoria-metrics (victoria-metrics, vmalert: the
# remote_write scale-out test) and kubectl (`kubectl kustomize` renders deploy/kubernetes).
# kubectl is no Debian 12 package (it comes from the Kubernetes or Google Cloud apt repository):
# a package apt does not know is reported, not installed, and its tests skip (fail in CI).
set -euo pipefail

declare -A program_of=(
  [prometheus]=promtool
  [prometheus-alertmanager]=amtool
  [chromium]=chromium
  [chromium-driver]=chromedriver
  [docker-compose]=docker-compose
  [openssl]=openssl
  [victoria-metrics]=vmalert
  [kubectl]=kubectl
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
available=()
for package in "${missing[@]}"; do
  if apt-cache show "$package" >/dev/null 2>&1; then
    available+=("$package")
  else
    echo "not in the configured apt sources, install it yourself: $package"
  fi
done
missing=("${available[@]}")
[ ${#missing[@]} -eq 0 ] && exit 0
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts packaged services where it can; the tests start their own on free ports.
for service in prometheus prometheus-alertmanager prometheus-node-exporter victoria-metrics; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
done
