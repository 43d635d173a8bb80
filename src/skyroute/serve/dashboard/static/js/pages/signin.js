import { api, auth } from "../api.js";
import { card, errorBox, h } from "../dom.js";

/** Sign in with a tenant's API key; the server checks it before the page keeps it. */
export function renderSignIn(main, signedIn) {
  const key = h("input", { type: "password", name: "api_key", autocomplete: "off", required: true, placeholder: "sk_…" });
  const problems = h("div");
  const form = h("form", { class: "stack", onsubmit: async (event) => {
    event.preventDefault();
    problems.replaceChildren();
    auth.set(key.value.trim());
    try {
      await api("GET", "/models/list");
      signedIn();
    } catch (error) {
      auth.clear();
      problems.append(errorBox(error.status === 401
        ? { message: "the server does not know this API key", fix: "paste a key from `skyroute tenant create` or ask your admin" }
        : error));
    }
  } }, h("label", {}, "API key", key), h("button", { type: "submit" }, "Sign in"), problems);
  main.append(h("div", { class: "signin" }, card("Sign in to SkyRoute",
    h("p", { class: "muted" }, "Everything on these pages belongs to the tenant of this key."), form)));
  key.focus();
}
