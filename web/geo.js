// Web Mercator maths and small geometry helpers (no dependencies).

export const TILE = 256;
const RAD = Math.PI / 180;
const MAX_LAT = 85.05112878;

/** World pixel coordinates of (lat, lng) at a (fractional) zoom. */
export function project(lat, lng, zoom) {
  const size = TILE * 2 ** zoom;
  const clamped = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat));
  const sin = Math.sin(clamped * RAD);
  return [((lng + 180) / 360) * size, (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size];
}

/** (lat, lng) of world pixel coordinates at a zoom. */
export function unproject(x, y, zoom) {
  const size = TILE * 2 ** zoom;
  const lng = (x / size) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / size;
  const lat = (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
  return [lat, lng];
}

/** Zoom at which the box [lat1, lng1, lat2, lng2] fits a width x height area. */
export function fitZoom(box, width, height) {
  const [a, b] = [project(box[0], box[1], 0), project(box[2], box[3], 0)];
  const dx = Math.abs(b[0] - a[0]) || 1e-9;
  const dy = Math.abs(b[1] - a[1]) || 1e-9;
  return Math.min(Math.log2(Math.max(width, 50) / dx), Math.log2(Math.max(height, 50) / dy));
}

/** Even-odd point-in-ring test; ring is [[lng, lat], ...] (GeoJSON order). */
export function inRing(lat, lng, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > lat) !== (yj > lat) && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Polygons ([[ring, holes...], ...]) of a GeoJSON Polygon or MultiPolygon. */
export function polygonsOf(geometry) {
  return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
}

/** True when (lat, lng) lies in a GeoJSON Polygon / MultiPolygon (holes respected). */
export function inGeometry(lat, lng, geometry) {
  return polygonsOf(geometry).some(
    (poly) => inRing(lat, lng, poly[0]) && !poly.slice(1).some((hole) => inRing(lat, lng, hole)));
}

/** Centre of a cell polygon [[lat, lng] x 4]. */
export function centreOf(polygon) {
  let lat = 0;
  let lng = 0;
  for (const [a, b] of polygon) { lat += a; lng += b; }
  return [lat / polygon.length, lng / polygon.length];
}

/** Great-circle distance in metres. */
export function distanceM(lat1, lng1, lat2, lng2) {
  const dLat = (lat2 - lat1) * RAD;
  const dLng = (lng2 - lng1) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}

/** "1.4×" */
export function times(multiplier) {
  return `${Number(multiplier).toFixed(1)}×`;
}

/** Arrow and word for a trend. */
export function trendLabel(trend) {
  return { increasing: "↗ increasing", decreasing: "↘ decreasing" }[trend] || "→ stable";
}

/** A number with at most one decimal. */
export function num(value) {
  const v = Number(value);
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
