// Sporing: what every page shares. Language choice and translations (static/i18n/<lang>.json),
// the JSON API client with precise error texts, remembered settings, and small DOM helpers.
// Plain ES module, no build step.

export const API = "api/v1/";
export const SVG_NS = "http://www.w3.org/2000/svg";
export const LANGS = ["nb", "en"];
export const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ storage (may be blocked)
export function remember(key, value) {
  try { localStorage.setItem("sporing." + key, value); } catch { /* private mode */ }
}
export function recall(key) {
  try { return localStorage.getItem("sporing." + key); } catch { return null; }
}

// ------------------------------------------------------------------ translations
let dict = {};
let current = "nb";

/** The language shown now ("nb" or "en"). */
export const lang = () => current;

/** The saved language, else the first of the browser's languages we have, else bokmål. */
export function pickLanguage() {
  const saved = recall("lang");
  if (LANGS.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base === "nb" || base === "nn" || base === "no") return "nb";
    if (base === "en") return "en";
  }
  return "nb";
}

/** The text of `key` with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = Object.hasOwn(dict, key) ? dict[key] : key;
  return text.replace(/\{(\w+)\}/g, (m, k) => (Object.hasOwn(params, k) ? String(params[k]) : m));
}

/** Load `next`'s texts and apply them to `[data-i18n]` elements and `[data-i18n-attr]`
 * attributes ("attr:key;attr:key"); sets the page's `lang` and the language switch. */
export async function loadLanguage(next) {
  const r = await fetch(`static/i18n/${next}.json`);
  if (!r.ok) throw new Error(`static/i18n/${next}.json: HTTP ${r.status}`);
  dict = await r.json();
  current = next;
  document.documentElement.lang = next;
  $("lang").value = next;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
}

/** An equipment type in the current language ("infusion-pump" -> "Infusjonspumpe"). */
export function typeLabel(type) {
  const key = "type." + String(type || "").replaceAll("_", "-");
  if (Object.hasOwn(dict, key)) return dict[key];
  const words = String(type || "").replace(/[-_]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// ------------------------------------------------------------------ HTTP
export class HttpError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

function describeDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return String(detail ?? "");
}

let onUnauthorized = () => {};

/** Call `fn(true)` when a request other than `auth/...` answers 401 (the session ended). */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** A JSON request to the API; throws HttpError (status 0: network) with the server's detail. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(API + path, {
      method, signal, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new HttpError(0, t("error.network"));
  }
  if (r.status === 401 && !path.startsWith("auth/")) onUnauthorized(true);
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = describeDetail((await r.json()).detail) || detail; } catch { /* not JSON */ }
    throw new HttpError(r.status, detail);
  }
  return r.status === 204 ? null : r.json();
}

/** The text to show for an error from `api`. */
export function errorText(e) {
  return e instanceof HttpError && e.status ? t("error.http", { status: e.status, detail: e.detail })
    : (e.message || String(e));
}

/** An SVG element with attributes, appended to `parent` when given. */
export function svgEl(name, attrs, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.append(node);
  return node;
}
