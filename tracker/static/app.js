// Sporing: the porter's page. Log in, find equipment as you type, the nearest available
// equipment from my room with the walking route on the level map (live positions over
// Server-Sent Events), and tag pairing for biomedical engineering.
// Plain ES module, no build step; every visible text comes from static/i18n/<lang>.json.

import {
  $, API, HttpError, SVG_NS, api, errorText, loadLanguage, pickLanguage, recall, remember,
  setUnauthorizedHandler, svgEl, t, typeLabel,
} from "./common.js";

const SEARCH_DELAY_MS = 250;

// ------------------------------------------------------------------ sentences
const STATE_ICONS = {
  available: "✓", in_use: "●", needs_cleaning: "!", in_transit: "➜", not_seen: "?",
  out_of_service: "✕",
};


/** "Infusion pump IP-4711": the type, then the number (without a repeated type prefix). */
function assetTitle(asset) {
  const slug = String(asset.type || "").replaceAll("_", "-").toLowerCase();
  let number = asset.id;
  if (slug && number.toLowerCase().startsWith(slug + "-")) number = number.slice(slug.length + 1);
  return `${typeLabel(asset.type)} ${number}`;
}

function duration(s) {
  const v = Math.max(0, s);
  if (v < 59.5) return t("unit.s", { n: Math.round(v) });
  if (v < 3570) return t("unit.min", { n: Math.round(v / 60) });
  if (v < 48 * 3600) return t("unit.h", { n: Math.round(v / 3600) });
  return t("unit.d", { n: Math.round(v / 86400) });
}

/** Seconds since the fix, counting the time since we received it. */
function ageOf(loc) {
  return loc.age_s + Math.max(0, Date.now() / 1000 - (loc._recv || Date.now() / 1000));
}

function stamp(loc) {
  if (loc && loc._recv === undefined) loc._recv = Date.now() / 1000;
  return loc;
}

function place(loc) {
  return t("sentence.place", {
    room: loc.room_name || loc.room || t("sentence.between_rooms"),
    level: loc.level_name || loc.level || "",
    building: loc.building || "",
  });
}

function distanceText(distance_m, walk_s) {
  return t("sentence.distance", {
    m: Math.round(distance_m), min: Math.max(1, Math.round((walk_s || 0) / 60)),
  });
}

/** The parts of the sentence a porter acts on; the first is the asset's title. */
function sentenceParts(asset, extra = {}) {
  const loc = asset.location;
  const stale = Boolean(loc && loc.stale);
  const parts = [assetTitle(asset)];
  if (!(asset.state === "not_seen" && (stale || !loc))) parts.push(t("state." + asset.state));
  if (!loc) parts.push(t("sentence.never"));
  else if (stale) parts.push(t("sentence.stale", { age: duration(ageOf(loc)), place: place(loc) }));
  else parts.push(place(loc));
  if (extra.distance_m !== undefined && extra.distance_m !== null) {
    parts.push(distanceText(extra.distance_m, extra.walk_s));
  }
  if (loc && !stale) parts.push(t("sentence.seen", { age: duration(ageOf(loc)) }));
  return parts;
}

function sentence(asset, extra) {
  return sentenceParts(asset, extra).join(" — ");
}

let nextId = 0;

/** A list item: state icon, the sentence (title in bold) and one action button. */
function resultItem(asset, extra, actionKey, action) {
  const li = document.createElement("li");
  li.className = "result state-" + asset.state;
  const p = document.createElement("p");
  p.className = "sentence";
  p.id = "s" + ++nextId;
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = STATE_ICONS[asset.state] || "•";
  const text = document.createElement("span");
  const fill = () => {
    const [title, ...rest] = sentenceParts(asset, extra);
    const strong = document.createElement("strong");
    strong.textContent = title;
    text.replaceChildren(strong, rest.length ? " — " + rest.join(" — ") : "");
  };
  fill();
  li._refresh = fill;
  p.append(icon, " ", text);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = t(actionKey);
  button.setAttribute("aria-describedby", p.id);
  button.addEventListener("click", action);
  li.append(p, button);
  return li;
}

// ------------------------------------------------------------------ session
let me = null;

async function checkSession() {
  try {
    me = await api("auth/me");
    showApp(false);
  } catch (e) {
    showLogin(e instanceof HttpError && e.status === 401 ? "" : errorText(e));
  }
}

function showLogin(message = "") {
  $("boot").hidden = true;
  $("app").hidden = true;
  $("who").hidden = true;
  $("logout").hidden = true;
  $("biomed-link").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
}

function loggedOut(expired) {
  if (!me) return;
  me = null;
  stopLive();
  showLogin(expired ? t("auth.expired") : "");
  $("username").focus();
}

async function showApp(focus) {
  $("boot").hidden = true;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("who").hidden = false;
  renderWho();
  $("pair").hidden = !(me.role === "biomed" || me.role === "admin");
  $("biomed-link").hidden = $("pair").hidden;
  if (focus) $("q").focus();
  await Promise.all([loadTypes(), loadLevels()]);
}

function renderWho() {
  if (me) $("who").textContent = t("auth.who", { name: me.name, role: t("role." + me.role) });
}

async function login(event) {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  const error = $("login-error");
  if (!username || !password) {
    error.textContent = t("auth.missing");
    (username ? $("password") : $("username")).focus();
    return;
  }
  error.textContent = "";
  try {
    me = await api("auth/login", { method: "POST", body: { username, password } });
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 0;
    error.textContent = status === 401 ? t("auth.failed")
      : status === 429 ? t("auth.throttled") : status === 422 ? t("auth.missing") : errorText(e);
    $("password").focus();
    return;
  }
  $("password").value = "";
  await showApp(true);
}

async function logout() {
  try { await api("auth/logout", { method: "POST" }); } catch { /* gone anyway */ }
  lastSearch = null;
  lastNearest = null;
  $("q").value = "";
  renderSearch();
  renderNearest();
  map.selected = null;
  map.route = null;
  loggedOut(false);
}

// ------------------------------------------------------------------ search as you type
let searchTimer = 0;
let searchAbort = null;
let lastSearch = null;

async function runSearch() {
  const q = $("q").value.trim();
  if (searchAbort) searchAbort.abort();
  if (!q) {
    lastSearch = null;
    renderSearch();
    return;
  }
  searchAbort = new AbortController();
  $("search-results").setAttribute("aria-busy", "true");
  try {
    const data = await api(`assets?q=${encodeURIComponent(q)}&limit=20`,
                           { signal: searchAbort.signal });
    for (const a of data.items) stamp(a.location);
    lastSearch = { q, data };
    renderSearch();
  } catch (e) {
    if (e.name !== "AbortError") $("search-status").textContent = errorText(e);
  } finally {
    $("search-results").removeAttribute("aria-busy");
  }
}

function renderSearch() {
  const list = $("search-results");
  const status = $("search-status");
  list.replaceChildren();
  if (!lastSearch) {
    status.textContent = "";
    return;
  }
  const { q, data } = lastSearch;
  const n = data.items.length;
  status.textContent = n === 0 ? t("search.none", { q })
    : data.total > n ? t("search.count_more", { n, total: data.total }) : t("search.count", { n });
  for (const asset of data.items) {
    list.append(resultItem(asset, {}, "search.show",
                           () => select(asset, {}, null, null, true)));
  }
}

// ------------------------------------------------------------------ nearest available
let types = null;
let rooms = [];
let roomTimer = 0;
let lastNearest = null;

async function loadTypes() {
  try {
    types = await api("types");
  } catch (e) {
    $("nearest-status").textContent = errorText(e);
    return;
  }
  renderTypes();
}

function renderTypes() {
  const select = $("type");
  const keep = select.value || recall("type") || "";
  const first = new Option(t("nearest.choose_type"), "");
  select.replaceChildren(first);
  for (const ty of types || []) {
    select.append(new Option(t("nearest.type_option",
                               { type: typeLabel(ty.type), available: ty.available }), ty.type));
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function roomValue(room) {
  return `${room.name} (${room.id})`;
}

async function fetchRooms(q) {
  rooms = await api(`rooms?q=${encodeURIComponent(q)}`);
  const list = $("room-options");
  list.replaceChildren(...rooms.slice(0, 30).map((room) => {
    const o = document.createElement("option");
    o.value = roomValue(room);
    o.label = t("map.level_option", { level: room.level_name || room.level,
                                      building: room.building });
    return o;
  }));
  return rooms;
}

/** The room the porter means by `text`: "Name (id)", an id, a name, or a unique match. */
async function resolveRoom(text) {
  const paren = text.match(/\(([^()]+)\)\s*$/);
  const wanted = text.toLowerCase();
  const exact = (list) => list.filter((r) => (paren && r.id === paren[1])
    || r.id.toLowerCase() === wanted || r.name.toLowerCase() === wanted
    || roomValue(r).toLowerCase() === wanted);
  let found = exact(rooms);
  if (found.length !== 1) {
    const fetched = await fetchRooms(paren ? paren[1] : text);
    found = exact(fetched);
    if (!found.length) found = fetched;
  }
  if (found.length === 1) return found[0];
  throw new Error(t(found.length ? "nearest.ambiguous_room" : "nearest.unknown_room",
                    { room: text }));
}

async function runNearest(event) {
  event.preventDefault();
  const status = $("nearest-status");
  const type = $("type").value;
  const text = $("room").value.trim();
  if (!type) {
    status.textContent = t("nearest.missing_type");
    $("type").focus();
    return;
  }
  if (!text) {
    status.textContent = t("nearest.unknown_room", { room: "" });
    $("room").focus();
    return;
  }
  status.textContent = t("nearest.searching");
  let room;
  try {
    room = await resolveRoom(text);
  } catch (e) {
    status.textContent = errorText(e);
    $("room").focus();
    return;
  }
  $("room").value = roomValue(room);
  remember("room", roomValue(room));
  remember("type", type);
  try {
    const data = await api(`nearest?type=${encodeURIComponent(type)}` +
                           `&from_room=${encodeURIComponent(room.id)}`);
    for (const item of data.items) stamp(item.asset.location);
    lastNearest = data;
  } catch (e) {
    status.textContent = errorText(e);
    return;
  }
  renderNearest();
  const top = lastNearest.items[0];
  if (top) await select(top.asset, top, top.route, lastNearest.from_room, false);
  loadTypes();
}

function renderNearest() {
  const list = $("nearest-results");
  const status = $("nearest-status");
  list.replaceChildren();
  if (!lastNearest) {
    status.textContent = "";
    return;
  }
  const data = lastNearest;
  const roomName = data.from_room.name || data.from_room.id;
  const unreachable = data.unreachable;  // how many ranked assets no route reaches
  let text = data.items.length
    ? t("nearest.count", { n: data.items.length, room: roomName })
    : t("nearest.none", { type: typeLabel(data.type).toLowerCase(), room: roomName });
  if (unreachable) text += " " + t("nearest.unreachable", { n: unreachable });
  status.textContent = text;
  for (const item of data.items) {
    list.append(resultItem(item.asset, item, "nearest.route",
                           () => select(item.asset, item, item.route, data.from_room, true)));
  }
}

// ------------------------------------------------------------------ the level map
const map = {
  levels: [], level: null, svg: null, overlay: null, zoom: 1, seq: 0,
  selected: null, route: null, fromRoom: null, others: new Map(), live: null,
};

async function loadLevels() {
  if (map.levels.length) {
    if (map.level) startLive(map.level.id);
    return;
  }
  try {
    map.levels = await api("levels");
  } catch (e) {
    $("map-live").textContent = errorText(e);
    return;
  }
  renderLevels();
  if (window.matchMedia("(max-width: 40rem)").matches) map.zoom = 2;
  if (!map.level && map.levels.length) await showLevel(map.levels[0].id);
}

function renderLevels() {
  const select = $("level");
  select.replaceChildren(...map.levels.map(
    (lv) => new Option(t("map.level_option", { level: lv.name, building: lv.building }), lv.id)));
  if (map.level) select.value = map.level.id;
}

function levelById(id) {
  return map.levels.find((lv) => lv.id === id) || null;
}

async function showLevel(id) {
  const lv = levelById(id);
  if (!lv) return;
  if (map.level && map.level.id === id && map.svg) {
    drawOverlay();
    return;
  }
  const seq = ++map.seq;
  map.level = lv;
  $("level").value = id;
  let text;
  try {
    const r = await fetch(lv.svg.replace(/^\//, ""), { credentials: "same-origin" });
    if (!r.ok) throw new HttpError(r.status, r.statusText);
    text = await r.text();
  } catch (e) {
    $("map-live").textContent = errorText(e);
    return;
  }
  if (seq !== map.seq) return;
  const plan = $("plan");
  plan.innerHTML = text; // our own server's drawing
  const svg = plan.querySelector("svg");
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("map.alt", { level: lv.name, building: lv.building }));
  svg.setAttribute("focusable", "false");
  map.svg = svg;
  map.overlay = document.createElementNS(SVG_NS, "g");
  map.overlay.id = "overlay";
  svg.append(map.overlay);
  map.others.clear();
  applyZoom();
  startLive(id);
}

function toPx(x, y) {
  const lv = map.level;
  return [lv.offset_x + (x - lv.min_x) * lv.scale, lv.offset_y + (lv.max_y - y) * lv.scale];
}

/** SVG units per CSS pixel, so markers keep their size on screen at any zoom. */
function unitsPerPixel() {
  const width = map.svg.getBoundingClientRect().width;
  const vb = map.svg.viewBox.baseVal;
  return width > 0 && vb && vb.width ? vb.width / width : 1;
}

function isSelected(loc) {
  const a = map.selected && map.selected.asset;
  return Boolean(a && (loc.asset === a.id || (a.tags || []).includes(loc.tag)));
}

function drawOverlay() {
  const g = map.overlay;
  if (!g) return;
  g.replaceChildren();
  const u = unitsPerPixel();
  const lv = map.level;
  const others = svgEl("g", { class: "others" }, g);
  for (const loc of map.others.values()) {
    if (isSelected(loc) || loc.level !== lv.id) continue;
    const [px, py] = toPx(loc.x, loc.y);
    svgEl("circle", { cx: px, cy: py, r: 3.5 * u, class: "other" }, others);
  }
  const route = map.route || [];
  let run = [];
  const runs = [];
  for (const p of route) {
    if (p.level === lv.id) run.push(toPx(p.x, p.y));
    else if (run.length) { runs.push(run); run = []; }
  }
  if (run.length) runs.push(run);
  for (const pts of runs) {
    const points = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
    svgEl("polyline", { points, class: "route-casing", "stroke-width": 9 * u }, g);
    svgEl("polyline", { points, class: "route", "stroke-width": 5 * u }, g);
  }
  if (route.length && route[0].level === lv.id) {
    const [sx, sy] = toPx(route[0].x, route[0].y);
    svgEl("rect", { x: sx - 8 * u, y: sy - 8 * u, width: 16 * u, height: 16 * u,
                    class: "start", "stroke-width": 2.5 * u }, g);
  }
  const loc = map.selected && map.selected.asset.location;
  if (loc && loc.level === lv.id) {
    const [px, py] = toPx(loc.x, loc.y);
    svgEl("circle", { cx: px, cy: py, r: Math.max(loc.accuracy_m * lv.scale, 12 * u),
                      class: "accuracy", "stroke-width": 2 * u }, g);
    const dot = svgEl("circle", { cx: px, cy: py, r: 9 * u, class: "asset",
                                  "stroke-width": 3 * u, id: "asset-dot" }, g);
    svgEl("title", {}, dot).textContent = assetTitle(map.selected.asset);
  }
  renderCaption();
}

function renderCaption() {
  const sel = map.selected;
  $("map-sentence").textContent = sel ? sentence(sel.asset, sel.extra) : t("map.empty");
  const notes = [];
  const loc = sel && sel.asset.location;
  if (loc && map.level && loc.level !== map.level.id) {
    const lv = levelById(loc.level);
    notes.push(t("map.elsewhere", { level: lv ? lv.name : loc.level,
                                    building: loc.building || "" }));
  }
  if (map.route && map.route.length && sel && sel.extra.distance_m !== undefined) {
    notes.push(t("map.route", { room: map.fromRoom ? map.fromRoom.name || map.fromRoom.id : "",
                                distance: distanceText(sel.extra.distance_m,
                                                       sel.extra.walk_s) }));
    const ids = routeLevels(map.route);
    if (ids.length > 1) {
      notes.push(t("map.route_levels", { levels: ids.map((id) => {
        const lv = levelById(id);
        return lv ? t("map.level_option", { level: lv.name, building: lv.building }) : id;
      }).join(" → ") }));
    }
  }
  $("map-route").textContent = notes.join(" ");
  $("map-live").textContent = map.live ? t("map.live", { n: map.others.size }) : "";
}

/** The levels a route walks on, in order (a level only passed in the elevator is left out). */
function routeLevels(route) {
  const runs = [];
  for (const p of route) {
    const run = runs[runs.length - 1];
    if (run && run.level === p.level) run.points.push(p);
    else runs.push({ level: p.level, points: [p] });
  }
  return runs.filter((run, i) => i === 0 || i === runs.length - 1 || run.points.some(
    (p) => Math.hypot(p.x - run.points[0].x, p.y - run.points[0].y) > 1)).map((run) => run.level);
}

function centreOnSelection() {
  const loc = map.selected && map.selected.asset.location;
  if (!map.svg || !loc || loc.level !== map.level.id) return;
  const [px, py] = toPx(loc.x, loc.y);
  const k = 1 / unitsPerPixel();
  const plan = $("plan");
  plan.scrollLeft = px * k - plan.clientWidth / 2;
  plan.scrollTop = py * k - plan.clientHeight / 2;
}

function applyZoom() {
  if (!map.svg) return;
  map.svg.style.width = `${map.zoom * 100}%`;
  $("zoom-out").disabled = map.zoom <= 1;
  $("zoom-in").disabled = map.zoom >= 8;
  drawOverlay();
  centreOnSelection();
}

/** Show one asset on the map (its level), with a walking route when there is one. */
async function select(asset, extra, route, fromRoom, focus) {
  map.selected = { asset, extra: extra || {} };
  map.route = route && route.length ? route : null;
  map.fromRoom = fromRoom;
  const level = (asset.location && asset.location.level)
    || (map.route && map.route[map.route.length - 1].level) || (map.level && map.level.id);
  if (level) await showLevel(level);
  drawOverlay();
  centreOnSelection();
  if (focus) $("map-heading").focus();
}

// ------------------------------------------------------------------ live positions (SSE)
function stopLive() {
  if (map.live) map.live.close();
  map.live = null;
}

function startLive(levelId) {
  stopLive();
  if (!("EventSource" in window)) return;
  const source = new EventSource(API + "live?level=" + encodeURIComponent(levelId));
  const handle = (snapshot) => (event) => {
    let data;
    try { data = JSON.parse(event.data); } catch { return; }
    if (snapshot) map.others.clear();
    for (const tag of data.removed || []) map.others.delete(tag);
    for (const loc of data.items || []) {
      stamp(loc);
      if (loc.level === levelId) map.others.set(loc.tag, loc);
      else map.others.delete(loc.tag);
      if (isSelected(loc)) {
        map.selected.asset = { ...map.selected.asset, location: loc };
      }
    }
    drawOverlay();
  };
  source.addEventListener("snapshot", handle(true));
  source.addEventListener("update", handle(false));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && map.live === source) {
      map.live = null;
      renderCaption();
    }
  });
  map.live = source;
}

// ------------------------------------------------------------------ pairing (biomed)
/** An asset id from what was typed or scanned: a GS1 GIAI (AI 8004) is unwrapped. */
function assetCode(raw) {
  let s = raw.trim();
  const gs1 = /^\](C1|d2|Q3|e0)/.test(s) || s.startsWith("\x1d") || s.startsWith("(8004)");
  s = s.replace(/^\][A-Za-z]\d/, "").replaceAll("\x1d", "");
  const m = s.match(/^\(8004\)(.+)$/) || (gs1 ? s.match(/^8004(.+)$/) : null);
  return m ? m[1] : s;
}

async function pair(event) {
  event.preventDefault();
  const status = $("pair-status");
  const code = assetCode($("pair-asset").value);
  const tag = $("pair-tag").value.trim();
  if (!code) { status.textContent = t("pair.missing_asset"); $("pair-asset").focus(); return; }
  if (!tag) { status.textContent = t("pair.missing_tag"); $("pair-tag").focus(); return; }
  const post = (id) => api(`assets/${encodeURIComponent(id)}/tags`,
                           { method: "POST", body: { tag } });
  let id = code;
  try {
    try {
      await post(id);
    } catch (e) {
      if (!(e instanceof HttpError) || e.status !== 404) throw e;
      const found = await api(`assets?q=${encodeURIComponent(code)}&limit=2`);
      if (found.items.length !== 1) throw e;
      id = found.items[0].id;
      await post(id);
    }
    status.textContent = t("pair.paired", { tag, asset: id });
  } catch (e) {
    status.textContent = errorText(e);
  }
}

async function unpair() {
  const status = $("pair-status");
  const tag = $("pair-tag").value.trim();
  if (!tag) { status.textContent = t("pair.missing_tag"); $("pair-tag").focus(); return; }
  try {
    await api(`tags/${encodeURIComponent(tag)}/pairing`, { method: "DELETE" });
    status.textContent = t("pair.unpaired", { tag });
  } catch (e) {
    status.textContent = errorText(e);
  }
}

const scan = { stream: null, target: null, timer: 0 };

function scanSupported() {
  return "BarcodeDetector" in window && Boolean(navigator.mediaDevices?.getUserMedia);
}

async function startScan(target) {
  stopScan();
  const video = $("scan-video");
  try {
    scan.stream = await navigator.mediaDevices.getUserMedia(
      { video: { facingMode: "environment" } });
  } catch (e) {
    $("pair-status").textContent = t("pair.no_camera", { detail: e.message || e.name });
    return;
  }
  scan.target = target;
  video.srcObject = scan.stream;
  $("scanner").hidden = false;
  $("scan-stop").focus();
  await video.play().catch(() => {});
  const detector = new window.BarcodeDetector();
  const tick = async () => {
    if (!scan.stream) return;
    try {
      const codes = await detector.detect(video);
      if (codes.length) {
        const input = $(target);
        input.value = codes[0].rawValue;
        stopScan();
        $("pair-status").textContent = t("pair.scanned", { value: codes[0].rawValue });
        input.focus();
        return;
      }
    } catch { /* the next frame may do */ }
    scan.timer = setTimeout(tick, 200);
  };
  tick();
}

function stopScan() {
  clearTimeout(scan.timer);
  if (scan.stream) for (const track of scan.stream.getTracks()) track.stop();
  scan.stream = null;
  $("scan-video").srcObject = null;
  const wasOpen = !$("scanner").hidden;
  $("scanner").hidden = true;
  if (wasOpen && scan.target && document.activeElement === $("scan-stop")) $(scan.target).focus();
}

// ------------------------------------------------------------------ start-up
function rerender() {
  renderWho();
  if (types) renderTypes();
  renderLevels();
  renderSearch();
  renderNearest();
  if (map.svg && map.level) {
    map.svg.setAttribute("aria-label",
                         t("map.alt", { level: map.level.name, building: map.level.building }));
  }
  renderCaption();
}

function wire() {
  $("lang").addEventListener("change", async () => {
    const lang = $("lang").value;
    remember("lang", lang);
    await loadLanguage(lang);
    rerender();
  });
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("q").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, SEARCH_DELAY_MS);
  });
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    clearTimeout(searchTimer);
    runSearch();
  });
  $("room").addEventListener("input", () => {
    clearTimeout(roomTimer);
    const q = $("room").value.trim();
    if (q && !/\)\s*$/.test(q)) {
      roomTimer = setTimeout(() => fetchRooms(q).catch(() => {}), SEARCH_DELAY_MS);
    }
  });
  $("nearest-form").addEventListener("submit", runNearest);
  $("level").addEventListener("change", () => showLevel($("level").value));
  $("zoom-in").addEventListener("click", () => { map.zoom = Math.min(8, map.zoom * 2); applyZoom(); });
  $("zoom-out").addEventListener("click", () => { map.zoom = Math.max(1, map.zoom / 2); applyZoom(); });
  $("pair-form").addEventListener("submit", pair);
  $("unpair").addEventListener("click", unpair);
  for (const button of document.querySelectorAll("button.scan")) {
    button.hidden = !scanSupported();
    button.addEventListener("click", () => startScan(button.dataset.target));
  }
  $("scan-stop").addEventListener("click", stopScan);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && scan.stream) stopScan();
  });
  if ("ResizeObserver" in window) new ResizeObserver(() => drawOverlay()).observe($("plan"));
  setInterval(() => {
    for (const li of document.querySelectorAll(".results li")) if (li._refresh) li._refresh();
    if (map.selected) renderCaption();
  }, 15000);
  const room = recall("room");
  if (room) $("room").value = room;
}

async function init() {
  setUnauthorizedHandler(loggedOut);
  wire();
  try {
    await loadLanguage(pickLanguage());
  } catch (e) {
    $("boot").textContent = e.message;
    return;
  }
  await checkSession();
}

init();
