// Simulation reports: the policies of a `skyroute simulate` run side by side, read from its
// metrics.json in the browser (nothing is uploaded).

import { bars, card, clear, errorBox, fmt, h, keyValues, table } from "../dom.js";

const CHARTS = [
  ["objective", (m) => m.objective, (v) => v.toFixed(4)],
  ["cost (USD)", (m) => m.cost_usd, (v) => `$${v.toPrecision(3)}`],
  ["p95 latency (ms)", (m) => m.latency_ms.p95, (v) => v.toFixed(0)],
  ["carbon (g)", (m) => m.carbon_g, (v) => v.toPrecision(3)],
];

// How far the bars reach, in multiples of the best policy (a random policy would flatten the rest).
const OFF_SCALE = 3;

export function renderReports(main) {
  const out = h("div", { id: "report" });
  const file = h("input", { type: "file", name: "metrics", accept: ".json,application/json" });
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    try {
      show(out, JSON.parse(await chosen.text()), chosen.name);
    } catch (error) {
      clear(out, errorBox({ message: `${chosen.name} is not a simulation's metrics.json (${error.message})`,
        fix: "choose the metrics.json that `skyroute simulate --out DIR` wrote" }));
    }
  });
  main.append(h("h1", {}, "Simulation reports"),
    card("Open a report", h("label", {}, "metrics.json from `skyroute simulate --policy all --out DIR`", file)), out);
}

export function show(out, report, name) {
  const policies = report && report.policies;
  if (!policies || typeof policies !== "object" || !Object.keys(policies).length) {
    throw new Error("it has no policies");
  }
  const rows = Object.entries(policies).map(([policy, m]) => ({ policy, ...m })).sort((a, b) => a.objective - b.objective);
  const best = rows[0].policy;
  const trace = report.trace || {};
  const weights = report.objective || {};
  clear(out,
    card(`${name}: ${trace.spec || "trace"}`, keyValues([
      ["invocations", (trace.invocations || 0).toLocaleString()], ["functions", String(trace.functions ?? "–")],
      ["hours", fmt.fixed(trace.hours, 1)], ["weights", `cost ${weights.cost} · latency ${weights.latency} · carbon ${weights.carbon}`],
      ["best", best],
    ])),
    card("Policies side by side (lower objective is better)", table([
      { label: "policy", value: (r) => r.policy },
      { label: "objective", value: (r) => r.objective.toFixed(4), num: true },
      { label: "cost", value: (r) => fmt.usd(r.cost_usd), num: true },
      { label: "latency mean", value: (r) => `${r.latency_ms.mean.toFixed(0)} ms`, num: true },
      { label: "p95", value: (r) => `${r.latency_ms.p95.toFixed(0)} ms`, num: true },
      { label: "carbon", value: (r) => `${r.carbon_g.toPrecision(3)} g`, num: true },
      { label: "cold starts", value: (r) => fmt.pct(r.cold_start_rate), num: true },
      { label: "errors", value: (r) => fmt.pct(r.error_rate), num: true },
      { label: "providers", value: (r) => Object.entries((r.mix || {}).provider || {}).filter(([, s]) => s > 0).map(([p, s]) => `${p} ${fmt.pct(s)}`).join(", ") },
    ], rows, { rowClass: (r) => (r.policy === best ? "best" : "") })),
    h("p", { class: "muted" }, `Bars run to ${OFF_SCALE}× the best policy's value; ▸ marks a value beyond.`),
    h("div", { class: "grid" }, CHARTS.map(([label, value, format]) => {
      const values = rows.map((r) => ({ label: r.policy, value: value(r) }));
      const best = Math.min(...values.map((v) => Math.abs(v.value)).filter((v) => v > 0));
      return card(label, bars(values, format, { max: Number.isFinite(best) ? OFF_SCALE * best : undefined }));
    })));
}
