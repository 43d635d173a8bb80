// Small DOM helpers. Text always goes in as text (never as HTML), so names and messages that
// come from the API cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "style") Object.assign(el.style, value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value") el.value = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** The API's {code, message, fix} as a box the user can act on. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert", dataset: { code: error.code || "error" } },
    h("strong", {}, error.message || String(error)),
    error.fix ? h("span", { class: "fix" }, `To fix: ${error.fix}`) : null);
}

export function toast(text, kind = "") {
  const el = h("div", { class: `toast ${kind}` }, text);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), 3000);
}

/** A table from column specs {label, value(row) -> text|Node, num?}; `key(row)` names each
 * row (data-key), for links and tests. */
export function table(columns, rows, { empty = "Nothing yet.", rowClass, key } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : "" }, c.label)))),
    h("tbody", {}, rows.map((row) => h("tr", { class: rowClass ? rowClass(row) : "", dataset: key ? { key: key(row) } : undefined },
      columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.value(row)))))));
}

/** Horizontal bars, e.g. feature importance: [{label, value}] scaled to the largest, or to
 * `max` when given (longer values are drawn full and marked off the scale). */
export function bars(items, format = (v) => v.toFixed(3), { max } = {}) {
  const scale = max || Math.max(...items.map((i) => Math.abs(i.value)), 1e-12);
  return h("div", { class: "bars" }, items.map((item) => {
    const share = Math.abs(item.value) / scale;
    return h("div", { class: `bar${share > 1 ? " over" : ""}` },
      h("span", {}, item.label),
      h("span", { class: "track" }, h("span", { class: "fill", style: { display: "block", width: `${100 * Math.min(share, 1)}%` } })),
      h("span", { class: "num" }, format(item.value), share > 1 ? " ▸" : ""));
  }));
}

export function keyValues(entries) {
  return h("dl", { class: "kv" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export const fmt = {
  num: (v, digits = 3) => (v === null || v === undefined ? "–" : Number(v).toPrecision(digits)),
  fixed: (v, digits = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits)),
  usd: (v) => (v === null || v === undefined ? "–" : Math.abs(v) < 0.01 && v !== 0 ? `$${Number(v).toExponential(2)}` : `$${Number(v).toPrecision(3)}`),
  pct: (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)} %`),
  time: (iso) => (iso ? new Date(iso).toLocaleString() : "–"),
  clock: (iso) => (iso ? new Date(iso).toLocaleTimeString() : "–"),
};

/** Run an action, showing its error (if any) in `where`; returns whether it succeeded. */
export async function attempt(where, action) {
  where.replaceChildren();
  try {
    await action();
    return true;
  } catch (error) {
    where.append(errorBox(error));
    return false;
  }
}
