// Time-series charts on uPlot (vendored, see ../vendor/VENDOR.md): small and fast, which is all
// a live dashboard needs.

const COLOURS = ["#2563eb", "#f59e0b", "#16a34a", "#dc2626", "#7c3aed", "#0ea5e9", "#db2777", "#64748b"];

export const confidenceBands = [
  { label: "high confidence (≥ 0.7)", colour: "#16a34a", test: (c) => c >= 0.7 },
  { label: "medium (0.4–0.7)", colour: "#d97706", test: (c) => c >= 0.4 && c < 0.7 },
  { label: "low (< 0.4)", colour: "#dc2626", test: (c) => c < 0.4 },
];

/**
 * A chart over time. `xs` are Date/ISO values; each series is {label, values, colour?,
 * points?: true for markers only, dash?}. Missing values are null (gaps).
 */
export function timeChart(el, { xs, series, yLabel = "", height = 260 }) {
  el.replaceChildren();
  el.classList.add("chart");
  const times = xs.map((x) => new Date(x).getTime() / 1000);
  // A lone point (or points at one moment) gets a minute either side, not years.
  const first = Math.min(...times);
  const last = Math.max(...times);
  const span = last - first < 60 ? [first - 60, last + 60] : [first, last];
  const opts = {
    width: Math.max(el.clientWidth || 600, 320),
    height,
    scales: { x: { time: true, range: () => span } },
    axes: [{}, { label: yLabel, size: 70 }],
    series: [{}, ...series.map((s, i) => {
      const colour = s.colour || COLOURS[i % COLOURS.length];
      return s.points
        ? { label: s.label, stroke: colour, width: 0, paths: () => null, points: { show: true, size: 7, fill: colour, stroke: colour } }
        : { label: s.label, stroke: colour, width: 2, dash: s.dash, spanGaps: true, points: { show: true, size: 5, fill: colour } };
    })],
  };
  const plot = new window.uPlot(opts, [times, ...series.map((s) => s.values)], el);
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 320), height }));
  resize.observe(el);
  return plot;
}
