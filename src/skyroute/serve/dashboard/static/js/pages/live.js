// Live: the decision stream as a timeline (a marker per decision; click it for the
// explanation), predictions against what then happened per instance type and region (coloured
// by the prediction's confidence), realised against expected outcomes per engine and model
// version, and drift.

import { api, openStream } from "../api.js";
import { timeChart, confidenceBands } from "../charts.js";
import { attempt, card, clear, fmt, h, keyValues, table } from "../dom.js";

const KEEP = 200; // decisions on the timeline

export function renderLive(main) {
  const closers = [];
  main.append(h("h1", {}, "Live"));
  closers.push(decisionTimeline(main));
  closers.push(predictionsVsActuals(main));
  outcomes(main);
  closers.push(drift(main));
  return () => closers.forEach((close) => close && close());
}

/** A stream's state next to its title: live, reconnecting, or closed with the server's reason. */
function streamState() {
  const dot = h("span", { class: "status-dot" });
  const text = h("span", { class: "muted" }, "connecting…");
  return {
    el: h("span", { class: "stream-state" }, dot, text),
    open() { dot.className = "status-dot open"; text.textContent = "live"; },
    closed(reason) { dot.className = "status-dot closed"; text.textContent = reason; },
  };
}

function decisionTimeline(main) {
  const decisions = [];
  const state = streamState();
  const strip = h("div", { class: "timeline", id: "timeline" });
  const explain = h("div", { class: "explain", id: "decision-detail" }, h("p", { class: "muted" }, "Click a marker to see why that placement was chosen."));
  const counter = h("span", { class: "muted" });
  let socket = null;
  let stopped = false;
  let selected = null;

  function draw() {
    if (!decisions.length) {
      clear(strip, h("span", { class: "axis", style: { left: "8px" } }, "No decision yet: POST /api/v1/ml/decide and they appear here."));
      return;
    }
    // Evenly spaced, oldest left: a batch decided in one millisecond stays readable.
    const step = 96 / Math.max(decisions.length - 1, 1);
    clear(strip,
      decisions.map((d, i) => h("button", {
        type: "button",
        class: `marker ${d.provider}${d.fallback ? " fallback" : ""}${selected === d.id ? " selected" : ""}`,
        title: `${d.function_id} → ${d.provider} ${d.region} (${fmt.clock(d.created_at)})`,
        dataset: { id: d.id },
        style: { left: `${2 + step * i}%` },
        onclick: () => { selected = d.id; show(d); draw(); },
      })),
      h("span", { class: "axis", style: { left: "6px" } }, fmt.clock(decisions[0].created_at)),
      h("span", { class: "axis", style: { right: "6px" } }, fmt.clock(decisions[decisions.length - 1].created_at)));
    counter.textContent = `${decisions.length} most recent, oldest left`;
  }

  function show(d) {
    clear(explain, h("div", { class: "grid" },
      keyValues([
        ["decision", d.id], ["function", d.function_id], ["at", fmt.time(d.created_at)], ["engine", d.engine],
        ["placement", `${d.provider} ${d.region} · ${d.memory_mb} MB · ${d.platform} · ${d.purchase}`],
        ["expected cost", fmt.usd(d.expected.cost_usd)], ["expected latency", `${fmt.fixed(d.expected.latency_ms, 1)} ms`],
        ["expected carbon", `${fmt.num(d.expected.carbon_g)} g`],
        ["fallback", d.fallback ? h("span", { class: "badge bad" }, d.fallback_reason || "yes") : "no"],
      ]),
      h("div", {}, h("h2", {}, "Explanation"), h("p", { class: "explanation" }, d.explanation))));
  }

  function add(events) {
    decisions.push(...events);
    decisions.splice(0, Math.max(decisions.length - KEEP, 0));
    draw();
  }

  function connect() {
    if (stopped) return;
    const after = decisions.length ? { after: decisions[decisions.length - 1].id } : {};
    socket = openStream("decisions", after);
    socket.onopen = () => state.open();
    socket.onmessage = (message) => add([JSON.parse(message.data)]);
    socket.onclose = (event) => {
      if (stopped) return;
      state.closed(event.reason ? `closed: ${event.reason}` : "disconnected, reconnecting…");
      if (event.code !== 1008) setTimeout(connect, 2000); // 1008: the key or filter is wrong
    };
  }

  api("GET", "/decisions/recent?limit=100").then((events) => { add(events); connect(); })
    .catch((error) => state.closed(error.message));

  main.append(card(null, h("h2", {}, "Decisions ", state.el, " ", counter),
    h("div", { class: "legend" }, ["aws", "azure", "gcp"].map((p) => h("span", {}, h("span", { class: `marker ${p}` }), p)),
      h("span", {}, "one lane per provider; red outline: fallback")),
    strip, explain));
  draw();
  return () => { stopped = true; if (socket) socket.close(); };
}

function predictionsVsActuals(main) {
  const pick = h("select", { name: "series" });
  const kind = h("select", { name: "kind" }, h("option", { value: "interruption" }, "interruption probability"), h("option", { value: "price" }, "spot price (USD/h)"));
  const chart = h("div", { id: "predictions-chart" });
  const note = h("div");
  let socket = null;
  let pending = null;

  async function load() {
    await attempt(note, async () => {
      const [type, region] = (pick.value || "|").split("|");
      const params = new URLSearchParams({ kind: kind.value, limit: "500" });
      if (type) { params.set("instance_type", type); params.set("region", region); }
      const answer = await api("GET", `/predictions/series?${params}`);
      // The fullest series first, unless the user picked one.
      const ranked = answer.series.slice().sort((a, b) => b.points.length - a.points.length);
      if (!pick.options.length && ranked.length) {
        for (const s of ranked) pick.append(h("option", { value: `${s.instance_type}|${s.region}` }, `${s.instance_type} · ${s.region}`));
      }
      const series = ranked.find((s) => !type || (s.instance_type === type && s.region === region));
      if (!series || !series.points.length) {
        clear(chart, h("p", { class: "muted" }, "No live prediction yet: fill a model's gap (Gap filler) and the server predicts its series on a schedule."));
        return;
      }
      const points = series.points;
      const price = kind.value === "price";
      timeChart(chart, {
        xs: points.map((p) => p.at),
        yLabel: price ? "USD per hour" : "P(interrupted within the horizon)",
        series: [
          ...confidenceBands.map((band) => ({ label: `predicted, ${band.label}`, colour: band.colour, points: true,
            values: points.map((p) => (band.test(p.confidence ?? 0) ? p.predicted : null)) })),
          { label: price ? "actual price" : "actual (1 = interrupted)", colour: "#111827", points: !price, values: points.map((p) => p.actual ?? null) },
        ],
      });
      const withActual = points.filter((p) => p.actual !== null && p.actual !== undefined);
      note.append(h("p", { class: "muted" }, `${points.length} predictions of ${series.instance_type} in ${series.region}, plotted when they were made; ${withActual.length} with an actual.`));
    });
  }

  pick.addEventListener("change", load);
  kind.addEventListener("change", load);
  main.append(card("Predictions vs actuals", h("form", { class: "row" }, h("label", {}, "series", pick), h("label", {}, "what", kind)), chart, note));
  load();
  socket = openStream("predictions");
  socket.onmessage = () => { clearTimeout(pending); pending = setTimeout(load, 500); };
  return () => { clearTimeout(pending); socket.close(); };
}

function outcomes(main) {
  const chart = h("div", { id: "outcomes-chart" });
  const arms = h("div", { id: "arms" });
  const chartProblems = h("div");
  const armProblems = h("div");
  main.append(card("Realised vs expected (from posted actuals)", chartProblems, chart, h("h2", {}, "A/B arms"), armProblems, arms));
  attempt(chartProblems, async () => {
    const { buckets } = await api("GET", "/actuals/series?bucket_minutes=5");
    if (!buckets.length) {
      clear(chart, h("p", { class: "muted" }, "No actuals yet: POST /api/v1/ml/actuals with what each decision cost and took."));
      return;
    }
    const starts = [...new Set(buckets.map((b) => b.start))].sort();
    const arm = (b) => `${b.engine} ${b.model_versions}`;
    const value = (name, field) => starts.map((start) => buckets.find((b) => b.start === start && arm(b) === name)?.[field] ?? null);
    timeChart(chart, { xs: starts, yLabel: "latency (ms)", series: [...new Set(buckets.map(arm))].flatMap((name) => [
      { label: `${name} expected`, values: value(name, "expected_latency_ms"), dash: [6, 4] },
      { label: `${name} realised`, values: value(name, "realised_latency_ms") },
    ]) });
  });
  attempt(armProblems, async () => {
    const summary = await api("GET", "/actuals/summary");
    clear(arms, table([
      { label: "engine", value: (a) => a.engine },
      { label: "model versions", value: (a) => a.model_versions },
      { label: "n", value: (a) => a.n.toLocaleString(), num: true },
      { label: "cost exp. / real.", value: (a) => `${fmt.usd(a.mean_expected_cost_usd)} / ${fmt.usd(a.mean_cost_usd)}`, num: true },
      { label: "latency exp. / real. (ms)", value: (a) => `${fmt.fixed(a.mean_expected_latency_ms, 1)} / ${fmt.fixed(a.mean_latency_ms, 1)}`, num: true },
      { label: "latency error (95 % CI)", value: (a) => (a.latency_error_ms === null ? "–" : `${fmt.fixed(a.latency_error_ms, 1)} ms` + (a.latency_error_ci95_ms ? ` [${fmt.fixed(a.latency_error_ci95_ms[0], 1)}, ${fmt.fixed(a.latency_error_ci95_ms[1], 1)}]` : "")), num: true },
      { label: "cold starts", value: (a) => fmt.pct(a.cold_start_rate), num: true },
    ], summary.arms, { empty: "No arm has actuals yet." }));
  });
}

function drift(main) {
  const statusBox = h("div", { id: "drift-status" });
  const alertsBox = h("div", { id: "drift-alerts" });
  const state = streamState();
  const alerts = [];
  let socket = null;

  const drawAlerts = () => clear(alertsBox, table([
    { label: "at", value: (a) => fmt.time(a.created_at) },
    { label: "kind", value: (a) => h("span", { class: "badge bad" }, a.kind) },
    { label: "model", value: (a) => `${a.engine} ${a.model_id ?? ""} ${a.model_version ?? ""}` },
    { label: "feature", value: (a) => a.feature },
    { label: "PSI", value: (a) => fmt.num(a.psi), num: true },
    { label: "p-value", value: (a) => fmt.num(a.p_value), num: true },
    { label: "message", value: (a) => a.message },
  ], alerts.slice().reverse(), { empty: "No drift alert." }));

  main.append(card(null, h("h2", {}, "Drift ", state.el), statusBox, h("h2", {}, "Alerts"), alertsBox));
  attempt(statusBox, async () => {
    const [status, stored] = await Promise.all([api("GET", "/drift/status"), api("GET", "/drift/alerts?limit=50")]);
    statusBox.append(h("p", { class: "muted" }, `Window ${status.window_size} decisions · PSI threshold ${status.psi_threshold} · p-value ${status.p_value}`),
      table([
        { label: "model", value: (m) => `${m.engine} ${m.model_id ?? ""} ${m.model_version ?? ""}` },
        { label: "reference", value: (m) => (m.has_reference ? "in the bundle" : h("span", { class: "muted" }, "none (no input drift)")) },
        { label: "n", value: (m) => String(m.n), num: true },
        { label: "features", value: (m) => h("div", { class: "actions" }, m.features.map((f) => h("span", { class: `badge ${f.drifted ? "bad" : "ok"}` }, `${f.feature} PSI ${fmt.num(f.psi, 2)}`))) },
      ], status.models, { empty: "No model with decisions yet." }));
    alerts.push(...stored.alerts.slice().reverse());
    drawAlerts();
    socket = openStream("alerts", alerts.length ? { after: alerts[alerts.length - 1].id } : {});
    socket.onopen = () => state.open();
    socket.onmessage = (message) => { alerts.push(JSON.parse(message.data)); drawAlerts(); };
    socket.onclose = (event) => state.closed(event.reason ? `closed: ${event.reason}` : "disconnected");
  });
  return () => { if (socket) socket.close(); };
}
