// Models: upload a bundle (with a progress bar), list, activate, split traffic (A/B),
// download, delete, and a version's details: metrics, feature importance, activation history.

import { api, download, upload } from "../api.js";
import { attempt, bars, card, clear, errorBox, fmt, h, keyValues, table, toast } from "../dom.js";

export function renderModels(main) {
  const listBox = h("div", { id: "model-list" });
  const listProblems = h("div");
  const details = h("div", { id: "model-details" });
  const splitBox = h("div");

  async function refresh() {
    await attempt(listProblems, async () => {
      const rows = await api("GET", "/models/list");
      clear(listBox, modelTable(rows));
      clear(splitBox, splitForm(rows));
    });
  }

  function modelTable(rows) {
    return table([
      { label: "model", value: (r) => r.model_id },
      { label: "version", value: (r) => r.version },
      { label: "kind", value: (r) => r.kind },
      { label: "trained until", value: (r) => r.trained_until },
      { label: "uploaded", value: (r) => fmt.time(r.uploaded_at) },
      { label: "traffic", value: (r) => (r.active ? h("span", { class: "badge ok" }, fmt.pct(r.weight)) : h("span", { class: "muted" }, "–")) },
      { label: "", value: (r) => h("div", { class: "actions" },
        h("button", { class: "secondary", type: "button", onclick: () => showDetails(r.model_id) }, "Details"),
        h("button", { class: "secondary", type: "button", disabled: r.active && r.weight >= 1, onclick: () => act(`activate ${r.model_id} ${r.version}`,
          () => api("POST", "/models/activate", { model_id: r.model_id, version: r.version })) }, "Activate"),
        h("button", { class: "secondary", type: "button", onclick: () => attempt(listProblems,
          () => download(`/models/${encodeURIComponent(r.model_id)}/download?version=${encodeURIComponent(r.version)}`, `${r.model_id}-${r.version}.zip`)) }, "Download"),
        h("button", { class: "danger", type: "button", onclick: () => {
          if (confirm(`Delete ${r.model_id} ${r.version}?`)) {
            act(`delete ${r.model_id} ${r.version}`, () => api("DELETE", `/models/${encodeURIComponent(r.model_id)}?version=${encodeURIComponent(r.version)}`));
          }
        } }, "Delete")) },
    ], rows, { empty: "No model yet: upload a bundle (skyroute train … writes them).", key: (r) => `${r.model_id}@${r.version}` });
  }

  async function act(what, call) {
    if (await attempt(listProblems, call)) {
      toast(`done: ${what}`);
      await refresh();
    }
  }

  function splitForm(rows) {
    const models = [...new Set(rows.map((r) => r.model_id))];
    if (!models.length) return h("p", { class: "muted" }, "Upload two versions of a model to split its traffic.");
    const model = h("select", { name: "model_id" }, models.map((m) => h("option", { value: m }, m)));
    const weights = h("div", { class: "stack" });
    const problems = h("div");
    const fill = () => clear(weights, rows.filter((r) => r.model_id === model.value).map((r) =>
      h("label", {}, `weight of ${r.version}`, h("input", { type: "number", min: "0", step: "any", name: `weight-${r.version}`, dataset: { version: r.version }, value: r.active ? String(r.weight) : "0" }))));
    model.addEventListener("change", fill);
    fill();
    return h("form", { class: "stack", onsubmit: async (event) => {
      event.preventDefault();
      const versions = [...weights.querySelectorAll("input")]
        .map((input) => ({ version: input.dataset.version, weight: Number(input.value) }))
        .filter((v) => v.weight > 0);
      if (await attempt(problems, () => api("POST", "/models/split", { model_id: model.value, versions }))) {
        toast(`traffic of ${model.value} split`);
        await refresh();
      }
    } }, h("label", {}, "model", model), weights, h("button", { type: "submit" }, "Apply split"), problems);
  }

  async function showDetails(modelId) {
    clear(details, h("p", { class: "muted" }, "Loading…"));
    try {
      const info = await api("GET", `/models/${encodeURIComponent(modelId)}`);
      clear(details, card(`Details of ${info.model_id}`,
        info.versions.map(versionDetails),
        h("h2", {}, "Activation history"),
        table([
          { label: "version", value: (a) => a.version },
          { label: "weight", value: (a) => fmt.pct(a.weight), num: true },
          { label: "from", value: (a) => fmt.time(a.started_at) },
          { label: "until", value: (a) => (a.ended_at ? fmt.time(a.ended_at) : "now") },
        ], info.history, { empty: "Never activated." })));
      details.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (error) {
      clear(details, errorBox(error));
    }
  }

  main.append(
    h("h1", {}, "Models"),
    h("div", { class: "grid" }, card("Upload a bundle", uploadForm(refresh)), card("A/B split", splitBox)),
    card("Models", listProblems, listBox),
    details,
  );
  refresh();
}

function versionDetails(v) {
  const manifest = v.manifest || {};
  const metrics = manifest.metrics || {};
  const scalars = Object.entries(metrics).filter(([, value]) => typeof value === "number" || typeof value === "string");
  const importance = metrics.feature_importance && typeof metrics.feature_importance === "object"
    ? Object.entries(metrics.feature_importance).map(([label, value]) => ({ label, value: Number(value) })).sort((a, b) => b.value - a.value)
    : [];
  return h("div", { class: "card version", dataset: { version: v.version } },
    h("h2", {}, `${v.version} · ${v.kind}`, v.unsafe ? h("span", { class: "badge bad" }, " unsafe") : null),
    keyValues([
      ["format", v.format], ["trained until", v.trained_until], ["uploaded", fmt.time(v.uploaded_at)],
      ["traffic", fmt.pct(v.weight)], ["features", String((manifest.features || []).length)], ["sha256", v.sha256.slice(0, 16) + "…"],
    ]),
    h("h2", { style: { marginTop: "12px" } }, "Metrics"),
    table([{ label: "metric", value: ([k]) => k }, { label: "value", value: ([, value]) => (typeof value === "number" ? fmt.num(value, 4) : value), num: true }],
      scalars, { empty: "The bundle records no metrics." }),
    h("h2", { style: { marginTop: "12px" } }, "Feature importance"),
    importance.length ? bars(importance) : h("p", { class: "muted" }, "The bundle records no feature importance."));
}

function uploadForm(done) {
  const file = h("input", { type: "file", name: "file", accept: ".zip", required: true });
  const name = h("input", { name: "name", required: true, placeholder: "placement" });
  const version = h("input", { name: "version", required: true, placeholder: "1.0.0" });
  const trained = h("input", { name: "trained_until", type: "date" });
  const progress = h("progress", { max: "1", value: "0", hidden: true });
  const problems = h("div");
  const button = h("button", { type: "submit" }, "Upload");
  return h("form", { class: "stack", id: "upload-model", onsubmit: async (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("file", file.files[0]);
    form.append("name", name.value);
    form.append("version", version.value);
    if (trained.value) form.append("trained_until", trained.value);
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    const ok = await attempt(problems, async () => {
      const stored = await upload("/models/upload", form, (share) => { progress.value = share; });
      toast(`stored ${stored.model_id} ${stored.version} (${stored.kind})`);
    });
    button.disabled = false;
    if (ok) { event.target.reset(); progress.hidden = true; await done(); }
    else progress.value = 0;
  } }, h("label", {}, "bundle (.zip)", file), h("label", {}, "name", name), h("label", {}, "version", version),
  h("label", {}, "trained until (default: the bundle's)", trained), progress, button, problems);
}
