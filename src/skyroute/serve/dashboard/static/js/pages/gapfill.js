// Gap filler: how much market data a model misses since it was trained (analyze), fill it
// (a job with progress), follow or cancel it, and the tenant's past jobs.

import { api } from "../api.js";
import { attempt, card, clear, fmt, h, keyValues, table, toast } from "../dom.js";

const POLL_MS = 1000;
const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

export function renderGapFiller(main) {
  let timer = null;
  const model = h("select", { name: "model_id" }, h("option", { value: "" }, "— none: use the date —"));
  const trained = h("input", { type: "date", name: "trained_until" });
  const types = h("input", { name: "instance_types", placeholder: "default: GAP_FILLER_INSTANCE_TYPES", size: "34" });
  const regions = h("input", { name: "regions", placeholder: "default: GAP_FILLER_REGIONS", size: "30" });
  const source = h("select", { name: "source" }, ["auto", "embedded", "aws", "synthetic"].map((s) => h("option", { value: s }, s)));
  const analysis = h("div", { id: "gap-analysis" });
  const job = h("div", { id: "gap-job" });
  const historyBox = h("div");
  const problems = h("div");

  const series = () => {
    const body = {};
    if (model.value) body.model_id = model.value;
    else if (trained.value) body.trained_until = trained.value;
    if (types.value.trim()) body.instance_types = list(types.value);
    if (regions.value.trim()) body.regions = list(regions.value);
    return body;
  };

  async function analyze() {
    await attempt(analysis, async () => {
      const gap = await api("POST", "/gap-filler/analyze", series());
      analysis.append(keyValues([
        ["trained until", gap.trained_until], ["today", gap.current_date], ["gap", `${gap.gap_days} days`],
        ["cap", `${gap.historic_days_max} days`], ["data types", gap.required_data_types.join(", ")],
      ]), table([
        { label: "series", value: (c) => `${c.instance_type} · ${c.region}` },
        { label: "data", value: (c) => c.data_type },
        { label: "hours present", value: (c) => `${c.hours_present} / ${c.hours_expected}`, num: true },
        { label: "coverage", value: (c) => fmt.pct(c.coverage), num: true },
        { label: "fresh until", value: (c) => fmt.time(c.fresh_until) },
        { label: "", value: (c) => (c.synthetic ? h("span", { class: "badge warn" }, "synthetic") : "") },
      ], gap.coverage));
    });
  }

  async function fill() {
    await attempt(job, async () => {
      const started = await api("POST", "/gap-filler/fill", { ...series(), source: source.value });
      toast(`fill ${started.task_id.slice(0, 8)} queued (${started.chunks} chunks)`);
      follow(started.task_id);
    });
  }

  function follow(taskId) {
    clearTimeout(timer);
    const poll = async () => {
      let status;
      try {
        status = await api("GET", `/gap-filler/status/${taskId}`);
      } catch (error) {
        await attempt(job, () => Promise.reject(error));
        return;
      }
      clear(job, jobView(status, () => api("POST", `/gap-filler/cancel/${taskId}`).then(() => follow(taskId))));
      if (status.status === "in_progress") timer = setTimeout(poll, POLL_MS);
      else refreshHistory();
    };
    poll();
  }

  async function refreshHistory() {
    await attempt(problems, async () => {
      const jobs = await api("GET", "/gap-filler/history?limit=20");
      clear(historyBox, table([
        { label: "job", value: (j) => h("button", { class: "secondary", type: "button", onclick: () => follow(j.task_id) }, j.task_id.slice(0, 8)) },
        { label: "status", value: (j) => statusBadge(j.status) },
        { label: "done", value: (j) => fmt.pct(j.percent_complete / 100), num: true },
        { label: "records", value: (j) => j.records_filled.toLocaleString(), num: true },
        { label: "started", value: (j) => fmt.time(j.created_at) },
        { label: "finished", value: (j) => fmt.time(j.finished_at) },
        { label: "not filled", value: (j) => (j.not_filled ? `${j.not_filled.start} – ${j.not_filled.end} (${j.not_filled.days} days)` : "–") },
      ], jobs, { empty: "No fill yet." }));
    });
  }

  api("GET", "/models/list").then((rows) => {
    for (const id of new Set(rows.map((r) => r.model_id))) model.append(h("option", { value: id }, id));
  }).catch(() => { /* the list box of the models page reports it */ });

  main.append(
    h("h1", {}, "Gap filler"),
    card("Series",
      h("form", { class: "row", id: "gap-form", onsubmit: (event) => { event.preventDefault(); analyze(); } },
        h("label", {}, "model", model), h("label", {}, "or trained until", trained),
        h("label", {}, "instance types (comma-separated)", types), h("label", {}, "regions", regions),
        h("label", {}, "source", source),
        h("button", { type: "submit" }, "Analyze"),
        h("button", { type: "button", id: "gap-fill", onclick: fill }, "Fill"))),
    h("div", { class: "grid" }, card("Analysis", analysis), card("Fill job", job)),
    card("History", problems, historyBox));
  refreshHistory();
  return () => clearTimeout(timer);
}

function statusBadge(status) {
  const kind = { completed: "ok", failed: "bad", cancelled: "warn" }[status] || "";
  return h("span", { class: `badge ${kind}` }, status);
}

function jobView(status, cancel) {
  const running = status.status === "in_progress";
  return h("div", { class: "stack", dataset: { status: status.status } },
    h("p", {}, statusBadge(status.status), ` ${status.chunks_done} of ${status.chunks_total} chunks · ${status.records_filled.toLocaleString()} records`,
      status.eta_seconds !== null && running ? ` · about ${Math.ceil(status.eta_seconds)} s left` : ""),
    h("progress", { max: "100", value: String(status.percent_complete) }),
    status.error ? h("div", { class: "error" }, status.error) : null,
    status.not_filled ? h("p", { class: "muted" }, `Not filled: ${status.not_filled.start} – ${status.not_filled.end} (${status.not_filled.days} days): ${status.not_filled.reason}`) : null,
    running ? h("button", { class: "danger", type: "button", onclick: cancel }, "Cancel") : null);
}
