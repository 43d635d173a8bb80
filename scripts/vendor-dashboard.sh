#!/usr/bin/env bash
# Refresh the dashboard's vendored front-end files from the npm registry (run by hand, then
# commit the result; the server never downloads anything). Version pinned here and in VENDOR.md.
set -euo pipefail
UPLOT_VERSION=1.6.32
dest="$(cd "$(dirname "$0")/.." && pwd)/src/skyroute/serve/dashboard/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@${UPLOT_VERSION}" >/dev/null && tar xzf uplot-*.tgz)
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$dest/"
cp "$work/package/LICENSE" "$dest/uPlot.LICENSE"
echo "uPlot ${UPLOT_VERSION} copied to ${dest}"
