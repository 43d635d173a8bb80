// Engines: the built-in and uploaded engines, upload a module, select one (with its config and
// purpose), read its input and output schemas, and test it on a sample request.

import { api, upload } from "../api.js";
import { attempt, card, clear, fmt, h, table, toast } from "../dom.js";

const SAMPLES = {
  placement: {
    function: { id: "resize", duration_ms: 120, memory_mb: 180, payload_kb: 4, origin: "aws:eu-west-1", rate_per_min: 30 },
  },
  "spot-optimize": {
    cluster_id: "batch-1",
    requirements: { vcpu: 2, memory_gib: 8, node_count: 10 },
    constraints: { regions: ["us-east-1"], max_interruption_probability: 0.1, on_demand_floor: 0.2 },
  },
};

export function renderEngines(main) {
  const listBox = h("div");
  const problems = h("div");
  const detail = h("div", { id: "engine-detail" });

  async function refresh() {
    await attempt(problems, async () => {
      const engines = await api("GET", "/engines/list");
      clear(listBox, table([
        { label: "engine", value: (e) => h("span", {}, e.name, " ", e.builtin ? h("span", { class: "badge" }, "built-in") : h("span", { class: "badge warn" }, "uploaded"),
          e.engine_id !== e.name ? h("div", { class: "muted small" }, e.engine_id) : null) },
        { label: "version", value: (e) => e.version },
        { label: "decides", value: (e) => e.purpose || "placement" },
        { label: "description", value: (e) => e.description },
        { label: "selected", value: (e) => [e.selected ? h("span", { class: "badge ok" }, "placement") : null, e.selected_for_spot ? h("span", { class: "badge ok" }, "spot-optimize") : null] },
        { label: "", value: (e) => h("button", { class: "secondary", type: "button", onclick: () => open(e.engine_id) }, "Open") },
      ], engines, { key: (e) => e.engine_id }));
    });
  }

  async function open(engineId) {
    clear(detail, h("p", { class: "muted" }, "Loading…"));
    const meta = await api("GET", `/engines/${encodeURIComponent(engineId)}/metadata`).catch((error) => error);
    if (meta instanceof Error) {
      await attempt(detail, () => Promise.reject(meta));
      return;
    }
    const purpose = meta.purpose === "spot-optimize" ? "spot-optimize" : "placement";
    const config = h("textarea", { name: "config", rows: "4" }, "{}");
    const sample = h("textarea", { name: "request", rows: "10" }, JSON.stringify(SAMPLES[purpose], null, 2));
    const selectProblems = h("div");
    const testOut = h("div", { id: "engine-test-output" });
    const parsed = (area, where) => {
      try { return JSON.parse(area.value || "{}"); } catch (error) {
        throw { message: `${where} is not valid JSON (${error.message})`, fix: "correct the JSON and try again" };
      }
    };
    clear(detail, card(`Engine ${meta.name} ${meta.version}`,
      h("p", { class: "muted" }, meta.description),
      h("div", { class: "grid" },
        h("div", {}, h("h2", {}, "Input schema"), h("pre", {}, JSON.stringify(meta.input_schema, null, 2))),
        h("div", {}, h("h2", {}, "Output schema"), h("pre", {}, JSON.stringify(meta.output_schema, null, 2)))),
      h("div", { class: "grid" },
        h("form", { class: "stack", id: "engine-select", onsubmit: async (event) => {
          event.preventDefault();
          if (await attempt(selectProblems, () => api("POST", "/engines/select", { engine_id: meta.engine_id, config: parsed(config, "the config"), purpose }))) {
            toast(`${meta.name} now decides ${purpose}`);
            await refresh();
          }
        } }, h("h2", {}, `Select for ${purpose}`), h("label", {}, "config (JSON)", config), h("button", { type: "submit" }, "Select"), selectProblems),
        h("form", { class: "stack", id: "engine-test", onsubmit: async (event) => {
          event.preventDefault();
          await attempt(testOut, async () => {
            const result = await api("POST", `/engines/${encodeURIComponent(meta.engine_id)}/test`, { request: parsed(sample, "the sample"), config: parsed(config, "the config") });
            testOut.append(h("p", {}, result.ok ? h("span", { class: "badge ok" }, "ok") : h("span", { class: "badge bad" }, `fallback: ${result.fallback_reason}`),
              ` in ${fmt.fixed(result.elapsed_ms, 1)} ms`), h("pre", {}, JSON.stringify(result.output, null, 2)));
          });
        } }, h("h2", {}, "Test with a sample"), h("label", {}, "request (JSON)", sample), h("button", { type: "submit" }, "Run test"), testOut))));
  }

  const file = h("input", { type: "file", name: "file", accept: ".py", required: true });
  const progress = h("progress", { max: "1", value: "0", hidden: true });
  const uploadProblems = h("div");
  const uploadForm = h("form", { class: "row", id: "upload-engine", onsubmit: async (event) => {
    event.preventDefault();
    const form = new FormData();
    form.append("file", file.files[0]);
    progress.hidden = false;
    const ok = await attempt(uploadProblems, async () => {
      const stored = await upload("/engines/upload", form, (share) => { progress.value = share; });
      toast(`engine ${stored.name} ${stored.version} inspected and stored`);
    });
    progress.hidden = true;
    if (ok) { event.target.reset(); await refresh(); }
  } }, h("label", {}, "engine module (.py, see docs/engines.md)", file), h("button", { type: "submit" }, "Upload"), progress, uploadProblems);

  main.append(h("h1", {}, "Engines"), card("Upload an engine", uploadForm), card("Engines", problems, listBox), detail);
  refresh();
}
