#!/usr/bin/env bash
# Debian packages the tests drive for real: Chromium for the dashboard's browser tests, the
# Prometheus Pushgateway that sweeps push their runs' metrics to, and promtool (Debian's
# prometheus package) that checks deploy/prometheus's config, rules and rule unit tests.
# Installed once when missing (Playwright is told to use /usr/bin/chromium; it never
# downloads a browser). Needs root or sudo.
set -euo pipefail
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/prometheus-pushgateway ] || packages+=(prometheus-pushgateway)
[ -x /usr/bin/promtool ] || packages+=(prometheus)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "missing Debian packages: ${packages[*]} (to fix: apt-get install ${packages[*]} as root)" >&2
  exit 1
fi
echo "installing Debian packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null \
  || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null; }
