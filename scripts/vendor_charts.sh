#!/usr/bin/env bash
# Rebuild the dashboard's vendored chart library from npm (`make vendor-charts`): Apache ECharts' minified build
# and its licence, pinned. The browser never fetches anything from outside (the CSP allows scripts from self only).
set -euo pipefail
VERSION=5.5.1
# The file this script vendored on 2026-11-30; a different tarball under the same version is refused.
SHA256=e84270bd0cd5bdf60fefc26d00c2a391cb2e81f4d26a7a9ee16185a54773a3cf
OUT=src/simkeep/web/static/vendor/echarts
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "echarts@$VERSION" >/dev/null && tar -xzf "echarts-$VERSION.tgz")
echo "$SHA256  $TMP/package/dist/echarts.min.js" | sha256sum --check --quiet
mkdir -p "$OUT"
cp "$TMP/package/dist/echarts.min.js" "$TMP/package/LICENSE" "$TMP/package/NOTICE" "$OUT/"
echo "vendored echarts $VERSION into $OUT (sha256 $SHA256)"
