// Sporing: biomedical engineering's pages. Utilization per type and department as inline SVG
// charts (time in state, concurrent use by hour of day, a heat map on the floor plan), fleet
// recommendations, the 7-day forecast's moves, alerts to acknowledge or resolve, and the
// maintenance, missing and idle worklists, each with a CSV download. Every chart has a summary
// sentence and a data table. Plain ES module, no build step; texts from static/i18n/<lang>.json.

import {
  $, API, HttpError, api, errorText, lang, loadLanguage, pickLanguage, remember, svgEl, t, typeLabel,
} from "./common.js";

const STATES = ["in_use", "available", "needs_cleaning", "in_transit", "not_seen", "out_of_service"];
const STATE_COLOURS = {
  in_use: "#37474f", available: "#1b5e20", needs_cleaning: "#8a4b00", in_transit: "#0d47a1",
  not_seen: "#767676", out_of_service: "#b71c1c",
};
const HEAT = ["#fde0c5", "#f9b384", "#f08a4b", "#d9592b", "#a63a16"];

const num = (v, digits = 0) => new Intl.NumberFormat(lang() === "nb" ? "nb-NO" : "en-GB",
  { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(v);

function when(iso) {
  if (!iso) return t("bio.never");
  return new Intl.DateTimeFormat(lang() === "nb" ? "nb-NO" : "en-GB",
    { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

// ------------------------------------------------------------------ DOM helpers
function el(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** A table with a caption, column headers and rows of cell texts (first cell a row header). */
function table(caption, headers, rows) {
  if (!rows.length) return el("p", { class: "hint" }, t("bio.empty"));
  const head = el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((c, i) =>
    (i === 0 ? el("th", { scope: "row" }, String(c)) : el("td", {}, String(c))))));
  return el("table", {}, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, ...body));
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  return q.toString();
}

/** Each report the page shows, with the query of both its data and its CSV link. */
function reportQueries() {
  const base = { from: filters.from, to: filters.to, type: filters.type };
  const department = filters.department || undefined;
  return {
    // [report, query, id of the CSV link (none: no link)]
    byDept: ["utilization", { ...base, by: "type_department", department }, "util-csv"],
    // the all-department rows, shown only when no department is chosen
    ...(department ? {} : { all: ["utilization", { ...base, by: "type" }, null] }),
    fleet: ["fleet", { ...base, department }, "fleet-csv"],
    rooms: ["rooms", { ...base, department }, "heat-csv"],
    forecast: ["forecast", { type: filters.type, department }, "forecast-csv"],
    maint: ["maintenance", { department, days: 14 }, "maint-csv"],
    missing: ["missing", { department, hours: 24 }, "missing-csv"],
    idle: ["idle", { department, days: 7 }, "idle-csv"],
  };
}

// ------------------------------------------------------------------ filters
const filters = { type: "", department: "", from: "", to: "" };
let me = null;
let groups = { types: [], departments: [] };
let levels = [];

function isoDate(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function fillSelects() {
  const type = $("f-type");
  type.replaceChildren(...groups.types.map((ty) => el("option", { value: ty }, typeLabel(ty))));
  type.value = filters.type;
  const dept = $("f-dept");
  dept.replaceChildren(el("option", { value: "" }, t("bio.all_departments")),
    ...groups.departments.map((d) => el("option", { value: d }, d)));
  dept.value = filters.department;
  const lv = $("heat-level");
  const keep = lv.value;
  lv.replaceChildren(...levels.map((l) => el("option", { value: l.id }, `${l.name} (${l.building})`)));
  if (keep) lv.value = keep;
}

function readFilters() {
  filters.type = $("f-type").value;
  filters.department = $("f-dept").value;
  filters.from = $("f-from").value;
  filters.to = $("f-to").value;
}

// ------------------------------------------------------------------ utilization chart
function stateLabel(s) {
  const text = t("state." + s);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function drawUtilization(rows) {
  const group = (r) => (r.department === null ? t("bio.all_departments") : r.department || t("bio.no_department"));
  const chart = $("util-chart");
  const W = 640, barH = 30, gap = 14, left = 170, right = 16;
  const H = rows.length * (barH + gap) + 24;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "util-summary",
    class: "bars", focusable: "false" });
  rows.forEach((r, i) => {
    const y = 8 + i * (barH + gap);
    const label = svgEl("text", { x: left - 8, y: y + barH / 2 + 5, "text-anchor": "end", class: "axis" }, svg);
    label.textContent = group(r);
    let x = left;
    for (const s of STATES) {
      const w = ((W - left - right) * (r.pct[s] || 0)) / 100;
      if (w <= 0) continue;
      const rect = svgEl("rect", { x, y, width: w, height: barH, fill: STATE_COLOURS[s], stroke: "#fff" }, svg);
      svgEl("title", {}, rect).textContent = `${stateLabel(s)}: ${num(r.pct[s], 1)} %`;
      if (w > 44) {
        const tx = svgEl("text", { x: x + w / 2, y: y + barH / 2 + 5, "text-anchor": "middle", class: "on-bar" }, svg);
        tx.textContent = `${num(r.pct[s])} %`;
      }
      x += w;
    }
  });
  chart.replaceChildren(svg);
  $("util-legend").replaceChildren(...STATES.map((s) => el("li", {},
    el("span", { class: "key", style: `background:${STATE_COLOURS[s]}`, "aria-hidden": "true" }), stateLabel(s))));
  const all = rows.find((r) => r.department === null) || rows[0];
  $("util-summary").textContent = all
    ? t("bio.util_summary", { type: typeLabel(filters.type), in_use: num(all.pct.in_use, 1),
      available: num(all.pct.available, 1), uses: all.uses,
      mean: all.mean_use_min === null ? "–" : num(all.mean_use_min) })
    : t("bio.util_none");
  $("util-table").replaceChildren(table(t("bio.util_heading"),
    [t("bio.department"), ...STATES.map(stateLabel), t("bio.uses"), t("bio.mean_use")],
    rows.map((r) => [group(r), ...STATES.map((s) => `${num(r.pct[s], 1)} %`), r.uses,
      r.mean_use_min === null ? "–" : `${num(r.mean_use_min)} min`])));
}

// ------------------------------------------------------------------ by hour of day
function drawHours(row) {
  const chart = $("hours-chart");
  if (!row) {
    chart.replaceChildren();
    $("hours-summary").textContent = t("bio.util_none");
    $("hours-table").replaceChildren();
    return;
  }
  const W = 640, H = 260, left = 36, bottom = 28, top = 12;
  const max = Math.max(1, row.owned, ...row.by_hour.peak);
  const sx = (W - left - 8) / 24;
  const sy = (v) => top + (H - top - bottom) * (1 - v / max);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "hours-summary",
    class: "bars", focusable: "false" });
  for (let v = 0; v <= max; v += Math.max(1, Math.ceil(max / 5))) {
    svgEl("line", { x1: left, x2: W - 8, y1: sy(v), y2: sy(v), class: "grid" }, svg);
    svgEl("text", { x: left - 6, y: sy(v) + 4, "text-anchor": "end", class: "axis" }, svg).textContent = String(v);
  }
  for (let h = 0; h < 24; h++) {
    const x = left + h * sx;
    const peak = row.by_hour.peak[h], p95 = row.by_hour.p95[h];
    svgEl("rect", { x: x + 2, y: sy(peak), width: sx - 4, height: sy(0) - sy(peak), class: "peak" }, svg);
    svgEl("rect", { x: x + sx * 0.25, y: sy(p95), width: sx * 0.5, height: sy(0) - sy(p95), class: "p95" }, svg);
    if (h % 3 === 0) svgEl("text", { x: x + sx / 2, y: H - 8, "text-anchor": "middle", class: "axis" }, svg).textContent = String(h).padStart(2, "0");
  }
  svgEl("line", { x1: left, x2: W - 8, y1: sy(row.owned), y2: sy(row.owned), class: "owned" }, svg);
  chart.replaceChildren(svg);
  const busiest = row.by_hour.peak.indexOf(Math.max(...row.by_hour.peak));
  $("hours-summary").textContent = t("bio.hours_summary", {
    type: typeLabel(row.type), where: row.department || t("bio.all_departments"), owned: row.owned,
    peak: row.peak, p95: row.p95, hour: String(busiest).padStart(2, "0") });
  $("hours-table").replaceChildren(table(t("bio.hours_heading"),
    [t("bio.hour"), t("bio.key_peak"), t("bio.key_p95")],
    row.by_hour.peak.map((p, h) => [`${String(h).padStart(2, "0")}:00`, p, row.by_hour.p95[h]])));
}

// ------------------------------------------------------------------ heat map
const levelPlans = new Map(); // level id -> promise of [SVG text, rooms GeoJSON], fetched once

function levelPlan(id) {
  if (!levelPlans.has(id)) {
    const got = Promise.all([
      fetch(API + `floorplans/${encodeURIComponent(id)}.svg`).then((r) => {
        if (!r.ok) throw new HttpError(r.status, r.statusText);
        return r.text();
      }),
      api(`floorplans/${encodeURIComponent(id)}.geojson`)]);
    got.catch(() => levelPlans.delete(id)); // a failure is not kept: the next draw retries
    levelPlans.set(id, got);
  }
  return levelPlans.get(id);
}

async function drawHeat(rows) {
  const id = $("heat-level").value;
  const lv = levels.find((l) => l.id === id);
  const plan = $("heat-plan");
  if (!lv) { plan.replaceChildren(); return; }
  const onLevel = rows.filter((r) => r.level === id);
  const [svgText, rooms] = await levelPlan(id);
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = document.importNode(doc.documentElement, true);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", "heat-summary");
  svg.setAttribute("focusable", "false");
  const top = Math.max(0, ...onLevel.map((r) => r.share_pct));
  const share = new Map(onLevel.map((r) => [r.room, r.share_pct]));
  const g = svgEl("g", { id: "heat-overlay" }, svg);
  const toPx = ([x, y]) => [lv.offset_x + (x - lv.min_x) * lv.scale, lv.offset_y + (lv.max_y - y) * lv.scale];
  for (const f of rooms.features) {
    const s = share.get(f.id);
    if (!s) continue;
    const bucket = Math.min(HEAT.length - 1, Math.floor((s / (top || 1)) * HEAT.length));
    const ring = f.geometry.coordinates[0].map(toPx);
    const poly = svgEl("polygon", { points: ring.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "),
      fill: HEAT[bucket], "fill-opacity": 0.85, stroke: "#1b1b1b", "stroke-width": 1.5, class: "heat-room",
      "data-room": f.id }, g);
    svgEl("title", {}, poly).textContent = `${f.properties.name}: ${num(s, 1)} %`;
    const cx = ring.reduce((a, p) => a + p[0], 0) / ring.length;
    const cy = ring.reduce((a, p) => a + p[1], 0) / ring.length;
    const label = svgEl("text", { x: cx, y: cy + 5, "text-anchor": "middle", class: "heat-label" }, g);
    label.textContent = `${num(s)} %`;
  }
  plan.replaceChildren(svg);
  const total = onLevel.reduce((a, r) => a + r.share_pct, 0);
  $("heat-summary").textContent = onLevel.length
    ? t("bio.heat_summary", { type: typeLabel(filters.type), level: lv.name, share: num(total, 1),
      room: onLevel[0].room_name || onLevel[0].room, room_share: num(onLevel[0].share_pct, 1) })
    : t("bio.heat_none", { type: typeLabel(filters.type), level: lv.name });
  $("heat-legend").replaceChildren(...HEAT.map((c, i) => el("li", {},
    el("span", { class: "key", style: `background:${c}`, "aria-hidden": "true" }),
    t("bio.heat_bucket", { lo: num((top * i) / HEAT.length, 1), hi: num((top * (i + 1)) / HEAT.length, 1) }))));
  $("heat-table").replaceChildren(table(t("bio.heat_heading"),
    [t("bio.room"), t("bio.hours_col"), t("bio.share")],
    onLevel.map((r) => [r.room_name || r.room, num(r.hours, 1), `${num(r.share_pct, 1)} %`])));
}

// ------------------------------------------------------------------ lists
function drawFleet(rows) {
  const key = lang() === "nb" ? "no" : "en";
  $("fleet-list").replaceChildren(...(rows.length ? rows.map((r) => el("li", {}, r.recommendation[key]))
    : [el("li", { class: "hint" }, t("bio.empty"))]));
}

function drawForecast(body) {
  const key = lang() === "nb" ? "no" : "en";
  const mine = body.rows.filter((r) => r.type === filters.type && r.department === (filters.department || null));
  const row = mine[0];
  $("forecast-summary").textContent = row
    ? t("bio.forecast_summary", { type: typeLabel(row.type), where: row.department || t("bio.all_departments"),
      peak: row.peak_plan, when: when(row.peak_at), weeks: row.weeks })
    : t("bio.util_none");
  $("forecast-list").replaceChildren(...(body.moves.length
    ? body.moves.map((m) => el("li", { class: "move" }, m.text[key]))
    : [el("li", { class: "hint" }, t("bio.no_moves"))]));
}

function drawWorklists(maint, missing, idle) {
  const yes = t("bio.yes"), no = t("bio.no");
  $("maint-table").replaceChildren(table(t("bio.maint_heading"),
    [t("bio.order"), t("bio.asset"), t("bio.due"), t("bio.room"), t("bio.state"), t("bio.collectable"), t("bio.walk")],
    maint.rows.map((r) => [r.order, `${typeLabel(r.type)} ${r.asset}`, `${r.next_maintenance} (${t("bio.days_left", { n: r.days_left })})`,
      r.room_name || r.room || t("bio.unknown"), stateLabel(r.state), r.collectable ? yes : no,
      r.walk_m === null ? "–" : `${num(r.walk_m)} m`])));
  $("missing-table").replaceChildren(table(t("bio.missing_heading"),
    [t("bio.asset"), t("bio.last_seen"), t("bio.room"), t("bio.last_gateway")],
    missing.rows.map((r) => [`${typeLabel(r.type)} ${r.asset}`, when(r.last_seen), r.room_name || r.room || t("bio.unknown"),
      r.last_gateway || "–"])));
  $("idle-table").replaceChildren(table(t("bio.idle_heading"),
    [t("bio.asset"), t("bio.room"), t("bio.idle_days")],
    idle.rows.map((r) => [`${typeLabel(r.type)} ${r.asset}`, r.room_name || r.room, num(r.idle_days, 1)])));
}

async function loadAlerts() {
  const status = $("alerts-status");
  try {
    const [open, acked] = await Promise.all([api("alerts?state=open"), api("alerts?state=acknowledged")]);
    const items = [...open.items, ...acked.items];
    status.textContent = t("bio.alerts_count", { open: open.total, acked: acked.total });
    $("alerts-list").replaceChildren(...items.map(alertItem));
  } catch (e) {
    status.textContent = errorText(e);
  }
}

function alertItem(a) {
  const id = `alert-${a.id}`;
  const text = el("p", { id, class: "sentence" }, el("strong", {}, t("bio.severity." + a.severity)), " — ",
    a.message, " — ", a.state === "acknowledged"
      ? t("bio.acked_by", { who: a.acknowledged_by, when: when(new Date(a.acknowledged_at * 1000).toISOString()) })
      : t("bio.raised_at", { when: when(new Date(a.raised_at * 1000).toISOString()) }));
  const buttons = el("div", { class: "buttons" });
  if (a.state === "open") buttons.append(action(a, "ack", "bio.ack", id));
  buttons.append(action(a, "resolve", "bio.resolve", id));
  return el("li", { class: `alert sev-${a.severity}`, "data-alert": a.id }, text, buttons);
}

function action(a, verb, key, describedBy) {
  const b = el("button", { type: "button", class: "secondary", "aria-describedby": describedBy }, t(key));
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await api(`alerts/${a.id}/${verb}`, { method: "POST" });
      await loadAlerts();
      $("alerts-status").textContent = t(verb === "ack" ? "bio.acked" : "bio.resolved", { id: a.id });
      $("alerts-heading").focus();
    } catch (e) {
      $("alerts-status").textContent = errorText(e);
      b.disabled = false;
    }
  });
  return b;
}

// ------------------------------------------------------------------ loading
async function loadAll() {
  readFilters();
  const status = $("filter-status");
  status.textContent = t("bio.loading");
  const dept = filters.department || undefined;
  const reports = Object.entries(reportQueries());
  for (const [, [report, params, link]] of reports) {
    if (link) $(link).href = `${API}reports/${report}?${query({ ...params, format: "csv" })}`;
  }
  try {
    const got = await Promise.all(reports.map(([, [report, params]]) => api(`reports/${report}?${query(params)}`)));
    const { byDept, all, fleet, rooms, forecast, maint, missing, idle } = Object.fromEntries(
      reports.map(([name], i) => [name, got[i]]));
    const utilRows = [...(all ? all.rows.map((r) => ({ ...r, department: null })) : []), ...byDept.rows];
    drawUtilization(utilRows);
    drawHours(fleet.rows.find((r) => r.department === (dept || null)));
    drawFleet(fleet.rows);
    drawForecast(forecast);
    drawWorklists(maint, missing, idle);
    await drawHeat(rooms.rows);
    lastRooms = rooms.rows;
    status.textContent = t("bio.loaded", { from: filters.from, to: filters.to });
  } catch (e) {
    status.textContent = errorText(e);
  }
}

let lastRooms = [];

async function start() {
  await loadLanguage(pickLanguage());
  $("lang").addEventListener("change", async () => {
    remember("lang", $("lang").value);
    await loadLanguage($("lang").value);
    if (me) { renderWho(); fillSelects(); await Promise.all([loadAll(), loadAlerts()]); }
  });
  try {
    me = await api("auth/me");
  } catch (e) {
    return gate(e instanceof HttpError && e.status === 401 ? t("bio.gate_logged_out") : errorText(e));
  }
  if (!(me.role === "biomed" || me.role === "admin")) {
    return gate(t("bio.gate_role", { name: me.name, role: t("role." + me.role) }));
  }
  renderWho();
  [groups, levels] = await Promise.all([api("reports/groups"), api("levels")]);
  const today = new Date();
  $("f-to").value = isoDate(today);
  $("f-from").value = isoDate(new Date(today.getTime() - 6 * 86400000));
  filters.type = groups.types.includes("infusion-pump") ? "infusion-pump" : groups.types[0] || "";
  fillSelects();
  $("boot").hidden = true;
  $("app").hidden = false;
  $("filter-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAll(); });
  $("heat-level").addEventListener("change", () => drawHeat(lastRooms));
  await Promise.all([loadAll(), loadAlerts()]);
}

function renderWho() {
  $("who").hidden = false;
  $("who").textContent = t("auth.who", { name: me.name, role: t("role." + me.role) });
}

function gate(message) {
  $("boot").hidden = true;
  $("gate").hidden = false;
  $("gate-text").textContent = message;
}

start().catch((e) => { $("boot").textContent = errorText(e); });
