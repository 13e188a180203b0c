// France and its neighbours from world-atlas's countries-50m TopoJSON, as a GeoJSON FeatureCollection clipped to
// metropolitan France's surroundings (overseas parts dropped), coordinates rounded to 3 decimals (~100 m).
const topojson = require(process.env.TOPO);
const atlas = require(process.env.ATLAS);
const KEEP = new Set(["France", "Belgium", "Luxembourg", "Germany", "Switzerland", "Italy", "Spain", "Andorra",
  "Monaco", "United Kingdom", "Netherlands", "Portugal", "Austria", "Liechtenstein", "San Marino", "Vatican",
  "Ireland", "Czechia", "Slovenia", "Denmark", "Jersey", "Guernsey", "Isle of Man"]);
const [W, S, E, N] = [-11, 35, 19, 56];
const round = (x) => Math.round(x * 1000) / 1000;
const inside = (ring) => ring.some(([x, y]) => x >= W && x <= E && y >= S && y <= N);
const all = topojson.feature(atlas, atlas.objects.countries).features;
const features = [];
for (const f of all) {
  const name = f.properties.name;
  if (!KEEP.has(name) || !f.geometry) continue;
  const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
  const kept = polys.filter((p) => inside(p[0])).map((p) => p.map((r) => r.map(([x, y]) => [round(x), round(y)])));
  if (!kept.length) continue;
  features.push({type: "Feature", properties: {name, france: name === "France"},
    geometry: {type: "MultiPolygon", coordinates: kept}});
}
process.stdout.write(JSON.stringify({type: "FeatureCollection",
  properties: {source: "world-atlas 2.0.2 countries-50m (Natural Earth, public domain)"}, features}));
