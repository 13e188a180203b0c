#!/usr/bin/env bash
# Rebuild the store finder's vendored map files from npm (`make vendor-map`): Leaflet 1.9.4's dist files and the
# offline base layer, France and its neighbours as GeoJSON made from world-atlas (Natural Earth 1:50m, public
# domain) with topojson-client at build time. Needs node and npm; the browser never fetches anything from outside.
set -euo pipefail
OUT=src/simkeep/web/static/vendor/leaflet
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent leaflet@1.9.4 world-atlas@2.0.2 topojson-client@3.1.0 >/dev/null)
for t in "$TMP"/*.tgz; do d="$TMP/$(basename "$t" .tgz)"; mkdir -p "$d"; tar -xzf "$t" -C "$d"; done
mkdir -p "$OUT/images"
cp "$TMP"/leaflet-1.9.4/package/dist/leaflet.js "$TMP"/leaflet-1.9.4/package/dist/leaflet.css "$OUT/"
cp "$TMP"/leaflet-1.9.4/package/dist/images/*.png "$OUT/images/"
cp "$TMP"/leaflet-1.9.4/package/LICENSE "$OUT/LICENSE"
cp "$TMP"/world-atlas-2.0.2/package/LICENSE "$OUT/world-atlas.LICENSE"
TOPO="$TMP/topojson-client-3.1.0/package/dist/topojson-client.js" \
ATLAS="$TMP/world-atlas-2.0.2/package/countries-50m.json" node scripts/vendor_map.js > "$OUT/france.geojson"
echo "vendored into $OUT: $(du -sh "$OUT" | cut -f1)"
