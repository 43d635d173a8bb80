// The page's router: #/models, #/engines, #/gapfill, #/live, #/reports; the sign-in form until
// the browser holds an API key that the server accepts.

import { auth } from "./api.js";
import { clear } from "./dom.js";
import { renderSignIn } from "./pages/signin.js";
import { renderModels } from "./pages/models.js";
import { renderEngines } from "./pages/engines.js";
import { renderGapFiller } from "./pages/gapfill.js";
import { renderLive } from "./pages/live.js";
import { renderReports } from "./pages/reports.js";

const PAGES = {
  models: renderModels,
  engines: renderEngines,
  gapfill: renderGapFiller,
  live: renderLive,
  reports: renderReports,
};

let leave = null; // the current page's clean-up (closes its streams and timers)
let current = null; // the page shown: a name of PAGES, or "signin"

function route() {
  if (leave) { leave(); leave = null; }
  const main = document.getElementById("main");
  const signedIn = Boolean(auth.key);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("signout").hidden = !signedIn;
  if (!signedIn) {
    current = "signin";
    clear(main);
    renderSignIn(main, () => { location.hash = "#/models"; route(); });
    return;
  }
  const name = (location.hash.replace(/^#\//, "") || "models").split("?")[0];
  const render = PAGES[name] || PAGES.models;
  current = name;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.getAttribute("href") === `#/${name}`);
  }
  clear(main);
  leave = render(main) || null;
}

document.getElementById("signout").addEventListener("click", () => { auth.clear(); route(); });
// A key revoked while signed in: back to the sign-in form (which reports its own 401s).
document.addEventListener("skyroute:unauthenticated", () => {
  if (current !== "signin") { auth.clear(); route(); }
});
window.addEventListener("hashchange", route);
route();
