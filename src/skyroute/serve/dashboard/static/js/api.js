// The dashboard's only way to the server: the JSON API under /api/v1/ml, with the API key the
// user signed in with (kept for this browser tab only, in sessionStorage).

const KEY = "skyroute.apiKey";
const BASE = "/api/v1/ml";

export const auth = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An API refusal as the server words it: {error: {code, message, fix}}. */
export class ApiError extends Error {
  constructor(status, code, message, fix) {
    super(message);
    this.status = status;
    this.code = code;
    this.fix = fix || "";
  }
}

function failure(status, text) {
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: shown as text */ }
  const error = body && body.error ? body.error : {};
  if (status === 401) document.dispatchEvent(new CustomEvent("skyroute:unauthenticated"));
  return new ApiError(status, error.code || `http_${status}`, error.message || text || `HTTP ${status}`, error.fix);
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${auth.key}`, ...extra };
}

/** One JSON call; resolves to the parsed answer, rejects with an ApiError. */
export async function api(method, path, body) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, "network", "the server did not answer", "check that it is running and reachable");
  }
  const text = await response.text();
  if (!response.ok) throw failure(response.status, text);
  return text ? JSON.parse(text) : null;
}

/** A multipart upload with progress (fetch cannot report upload progress; XHR can). */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", BASE + path);
    xhr.setRequestHeader("Authorization", `Bearer ${auth.key}`);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
      } else {
        reject(failure(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload was interrupted", "check the connection and upload again"));
    xhr.send(form);
  });
}

/** Save an authenticated download (a plain link could not send the key). */
export async function download(path, filename) {
  const response = await fetch(BASE + path, { headers: headers() });
  if (!response.ok) throw failure(response.status, await response.text());
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A live stream; browsers cannot set headers on a WebSocket, hence ?api_key=. */
export function openStream(stream, params = {}) {
  const query = new URLSearchParams({ ...params, api_key: auth.key });
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return new WebSocket(`${scheme}://${location.host}${BASE}/${stream}/live?${query}`);
}
