// webhookctl console: plain JavaScript, no build step, nothing from elsewhere (the CSP allows 'self' only).
// Every value from the API reaches the page as text (textContent, attributes), never as HTML.
"use strict";

const TOKEN_HEADER = "X-Webhookctl-Token";
const TOKEN = document.querySelector('meta[name="webhookctl-token"]').content;
const POLL_DELIVERIES_MS = 3000;
const POLL_OVERVIEW_MS = 10000;
const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d", "#475569"];
const SVG_NS = "http://www.w3.org/2000/svg";

const state = { meta: null, timer: null, cursor: null, paged: false, delivery: null };

// ------------------------------------------------------------------ helpers

function $(id) {
  return document.getElementById(id);
}

/** An element with attributes and children; strings become text nodes (never parsed as HTML). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

function when(iso) {
  return iso ? iso.slice(0, 19).replace("T", " ") : "—";
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function badge(status) {
  return el("span", { class: `badge ${status || "unknown"}` }, status || "unknown");
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

/** fetch with the token header; the API's {"error"} becomes a thrown Error with that message. */
async function api(path, options) {
  const init = Object.assign({ headers: {} }, options || {});
  init.headers[TOKEN_HEADER] = TOKEN;
  if (init.body !== undefined) init.headers["Content-Type"] = "application/json";
  const response = await fetch(path, init);
  const doc = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(doc.error || `HTTP ${response.status}`);
  return doc;
}

async function guarded(work) {
  try {
    await work();
    showError("");
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    showError(error.message);
  }
}

function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    const done = (answer) => () => {
      dialog.close();
      resolve(answer);
    };
    $("confirm-ok").onclick = done(true);
    $("confirm-cancel").onclick = done(false);
    dialog.oncancel = done(false);
    dialog.showModal();
  });
}

function keyValues(node, doc) {
  const rows = Object.entries(doc || {}).map(([k, v]) => [el("dt", {}, k),
    el("dd", {}, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))]);
  fill(node, rows.length ? rows.flat() : [el("dd", { class: "muted" }, "none")]);
}

// ------------------------------------------------------------------ views and polling

function route() {
  const hash = location.hash.replace(/^#/, "") || "overview";
  const [view, id] = hash.split("/");
  clearInterval(state.timer);
  for (const section of document.querySelectorAll(".view")) section.hidden = true;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === view || (view === "delivery" && link.dataset.view === "deliveries"));
  }
  const views = { overview: showOverview, deliveries: showDeliveries, delivery: () => showDelivery(id), dlq: showDlq };
  (views[view] || showOverview)();
}

function poll(work, ms) {
  guarded(work);
  state.timer = setInterval(() => guarded(work), ms);
}

// ------------------------------------------------------------------ overview

function showOverview() {
  $("view-overview").hidden = false;
  poll(loadOverview, POLL_OVERVIEW_MS);
}

async function loadOverview() {
  const doc = await api("/api/overview");
  renderStages(doc.stages);
  renderChart(doc.chart);
  renderQueues(doc.queues, doc.oldest_queued);
  renderAlarms(doc.alarms);
}

function renderStages(stages) {
  fill($("stages"), stages.map((stage) => el("li", { class: `stage ${stage.state}`, "data-stage": stage.key },
    el("span", { class: "stage-label" }, stage.label),
    el("dl", {}, Object.entries(stage.counts).map(([name, value]) =>
      [el("dt", {}, name), el("dd", {}, value === null ? "n/a" : value)]).flat()),
    el("span", { class: "stage-state" }, stage.state))));
}

function renderChart(chart) {
  const series = Object.entries(chart.series);
  if (!series.length) {
    fill($("chart"), el("p", { class: "muted" }, "No deliveries in the last hour."));
    return;
  }
  const buckets = series[0][1].length;
  const totals = Array.from({ length: buckets }, (_, i) => series.reduce((sum, [, counts]) => sum + counts[i], 0));
  const top = Math.max(1, ...totals);
  const width = 480, height = 140, barWidth = width / buckets;
  const chartSvg = svg("svg", { viewBox: `0 0 ${width} ${height + 18}`, role: "img", class: "bars",
    "aria-label": "deliveries per provider, last hour" });
  for (let i = 0; i < buckets; i++) chartSvg.append(...bucketBars(series, i, barWidth, height, top));
  chartSvg.append(svg("text", { x: 0, y: height + 14, class: "axis" }, `-${chart.bucket_minutes * buckets} min`),
    svg("text", { x: width, y: height + 14, class: "axis end" }, "now"),
    svg("text", { x: 2, y: 10, class: "axis" }, `${top}`));
  const legend = el("ul", { class: "legend" }, series.map(([provider, counts], n) =>
    el("li", {}, swatch(n), `${provider} (${counts.reduce((a, b) => a + b, 0)})`)));
  fill($("chart"), chartSvg, legend);
}

function bucketBars(series, i, barWidth, height, top) {
  let y = height;
  const bars = [];
  series.forEach(([provider, counts], n) => {
    if (!counts[i]) return;
    const h = (counts[i] / top) * (height - 14);
    y -= h;
    bars.push(svg("rect", { x: i * barWidth + 2, y, width: barWidth - 4, height: h, fill: PALETTE[n % PALETTE.length] },
      svg("title", {}, `${provider}: ${counts[i]}`)));
  });
  return bars;
}

function swatch(n) {
  return svg("svg", { width: 10, height: 10, class: "swatch" },
    svg("rect", { width: 10, height: 10, fill: PALETTE[n % PALETTE.length] }));
}

function depthText(depth) {
  return depth ? `${depth.waiting} waiting, ${depth.in_flight} in flight` : "not deployed";
}

function renderQueues(queues, oldest) {
  keyValues($("queues"), {
    "ingest queue": depthText(queues.queue),
    "ingest DLQ": depthText(queues.dlq),
    "targets' DLQ": depthText(queues.targets_dlq),
    "oldest queued": oldest ? `${oldest.provider} ${oldest.webhook_id} (${ago(oldest.age_seconds)} ago)` : "none waiting",
  });
}

function renderAlarms(alarms) {
  const body = $("alarms").tBodies[0];
  if (!alarms.length) {
    fill(body, el("tr", {}, el("td", { colspan: 3, class: "muted" }, "No alarms deployed.")));
    return;
  }
  fill(body, alarms.map((a) => el("tr", {}, el("td", { title: a.description || "" }, a.key),
    el("td", {}, el("span", { class: `badge alarm-${a.state}` }, a.state)), el("td", { class: "muted" }, a.reason || ""))));
}

// ------------------------------------------------------------------ deliveries

function filterQuery() {
  const form = new FormData($("filters"));
  const query = new URLSearchParams();
  for (const [name, value] of form.entries()) if (String(value).trim()) query.append(name, String(value).trim());
  return query;
}

function showDeliveries() {
  $("view-deliveries").hidden = false;
  state.paged = false;
  poll(refreshDeliveries, POLL_DELIVERIES_MS);
}

async function refreshDeliveries() {
  if (state.paged) return; // older pages are showing: live updates resume when the filters are applied again
  const page = await api(`/api/deliveries?${filterQuery()}`);
  fill($("deliveries").tBodies[0], page.events.map(deliveryRow));
  setCursor(page);
}

async function olderDeliveries() {
  await guarded(async () => {
    const page = await api(`/api/deliveries?next=${encodeURIComponent(state.cursor)}`);
    state.paged = true;
    $("deliveries").tBodies[0].append(...page.events.map(deliveryRow));
    setCursor(page);
  });
}

function setCursor(page) {
  state.cursor = page.next;
  $("more").hidden = !page.next;
  $("deliveries-empty").hidden = $("deliveries").tBodies[0].rows.length > 0;
}

function deliveryRow(event) {
  const link = `#delivery/${encodeURIComponent(event.webhook_id)}`;
  const row = el("tr", { "data-webhook-id": event.webhook_id, class: "clickable" },
    el("td", {}, when(event.received_at)), el("td", {}, event.provider), el("td", {}, event.event_type || "—"),
    el("td", {}, badge(event.status)), el("td", { class: "mono" }, el("a", { href: link }, event.webhook_id)));
  row.addEventListener("click", () => { location.hash = link; });
  return row;
}

// ------------------------------------------------------------------ one delivery

function showDelivery(id) {
  $("view-delivery").hidden = false;
  $("replay-result").hidden = true;
  state.delivery = decodeURIComponent(id || "");
  fill($("payload"));
  poll(() => loadDelivery(state.delivery), POLL_DELIVERIES_MS);
}

async function loadDelivery(id) {
  const doc = await api(`/api/deliveries/${encodeURIComponent(id)}`);
  const record = doc.record;
  $("delivery-title").textContent = `${record.provider} ${record.event_type || "event"}`;
  renderTimeline(doc.timeline);
  keyValues($("record"), record);
  keyValues($("headers"), doc.headers);
  renderVerification(doc.verification);
  if (!$("payload").childElementCount) renderPayload(doc.payload, doc.archive); // keeps what the reader unfolded
}

function renderTimeline(steps) {
  fill($("timeline"), steps.map((step) => el("li", { class: `step ${step.step} ${step.done ? "done" : "pending"}` },
    el("strong", {}, step.step), el("span", {}, step.done ? when(step.at) : "not yet"),
    step.attempts !== undefined && step.done ? el("span", { class: "muted" }, `attempts: ${step.attempts}`) : null)));
}

function renderVerification(check) {
  const node = $("verification");
  if (check.verified) {
    const age = check.age_seconds === null ? "the scheme signs no timestamp"
      : `signed ${ago(check.age_seconds)} ago (${check.within_tolerance ? "inside" : "outside"} the ${check.tolerance_seconds} s tolerance)`;
    fill(node, el("span", { class: "badge processed" }, "verified"), ` matches ${check.secret} of ${check.active_secrets} active secret(s); ${age}`);
  } else {
    fill(node, el("span", { class: "badge failed" }, "not verified"), ` ${check.error}`);
  }
}

function renderPayload(payload, archive) {
  const node = $("payload");
  if (!payload) {
    $("payload-title").textContent = "Payload";
    fill(node, el("p", { class: "muted" }, archive.note || "not readable"));
    return;
  }
  $("payload-title").textContent = `Payload (${payload.content_type}, ${payload.size} bytes, ${payload.kind})`;
  const views = {
    json: () => jsonTree(payload.json, null),
    form: () => formTable(payload.form),
    text: () => el("pre", { class: "text" }, payload.text),
    binary: () => el("p", { class: "muted" },
      `binary, ${payload.size} bytes of ${payload.content_type}: \`webhookctl events show ID --raw > file\` writes them`),
  };
  fill(node, (views[payload.kind] || views.binary)());
}

/** Pretty JSON that folds: every object and array is a <details>; every value is text. */
function jsonTree(value, key) {
  const label = key === null ? [] : [el("span", { class: "key" }, JSON.stringify(key)), ": "];
  if (value === null || typeof value !== "object") {
    return el("div", { class: "leaf" }, ...label, el("span", { class: `json-${value === null ? "null" : typeof value}` },
      JSON.stringify(value)));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return el("details", { open: true, class: "node" },
    el("summary", {}, ...label, open, el("span", { class: "muted" }, ` ${countOf(entries.length, Array.isArray(value) ? "item" : "key")} `), close),
    el("div", { class: "children" }, entries.map(([k, v]) => jsonTree(v, Array.isArray(value) ? null : k))));
}

function countOf(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function formTable(fields) {
  return el("table", { class: "table" }, el("thead", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "value"))),
    el("tbody", {}, fields.map(([name, value]) => el("tr", {}, el("td", { class: "mono" }, name), el("td", {}, value)))));
}

async function replayDelivery() {
  const id = state.delivery;
  if (!(await confirmAction(`Publish delivery ${id} to the bus again? Consumers receive it once more, marked "replayed".`))) return;
  await guarded(async () => {
    const result = await api(`/api/deliveries/${encodeURIComponent(id)}/replay`, { method: "POST", body: "{}" });
    const note = $("replay-result");
    note.textContent = `Replayed: ${result.published} event published to the bus (marked "replayed": true).`;
    note.hidden = false;
  });
}

// ------------------------------------------------------------------ DLQ

function showDlq() {
  $("view-dlq").hidden = false;
  poll(loadDlq, POLL_OVERVIEW_MS);
}

async function loadDlq() {
  const doc = await api("/api/dlq");
  fill($("dlq-ingest").tBodies[0], doc.ingest.map((m) => el("tr", { "data-webhook-id": m.webhook_id || "" },
    el("td", { class: "mono" }, m.webhook_id ? el("a", { href: `#delivery/${encodeURIComponent(m.webhook_id)}` }, m.webhook_id) : m.message_id),
    el("td", {}, m.provider || "—"), el("td", {}, m.event_type || "—"), el("td", {}, when(m.received_at)),
    el("td", { class: "num" }, m.receive_count),
    el("td", {}, m.why || el("span", { class: "muted" }, `not in the logs: webhookctl logs process ${m.webhook_id || ""}`)))));
  $("dlq-ingest-empty").hidden = doc.ingest.length > 0;
  $("redrive").disabled = doc.ingest.length === 0;
  fill($("dlq-targets"), doc.targets.map(targetCard));
}

function targetCard(target) {
  const button = el("button", { type: "button", class: "action", disabled: !target.messages.length,
    "data-route": target.route, onclick: () => redrive(target.route) }, "Redrive");
  const rows = target.messages.map((m) => el("tr", {}, el("td", { class: "mono" }, m.webhook_id || m.event_id || m.message_id),
    el("td", {}, m.provider || "—"), el("td", {}, m.event_type || "—"), el("td", {}, m.error_code || "—"),
    el("td", {}, m.exhausted || "—"), el("td", { class: "num" }, m.retry_attempts)));
  return el("div", { class: "card", "data-route": target.route },
    el("div", { class: "delivery-head" }, el("h3", {}, `Route ${target.route} `, el("small", {}, `→ ${target.target}`)), button),
    target.error ? el("p", { class: "muted" }, target.error) : null,
    rows.length ? el("table", { class: "table" }, el("thead", {}, el("tr", {}, ["webhook id", "provider", "event type",
      "error", "retries exhausted by", "retries"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
      : el("p", { class: "muted" }, target.error ? "" : "Empty."));
}

async function redrive(route) {
  const what = route ? `route ${route}'s dead-lettered events back on the bus for its target alone`
    : "the ingest DLQ's messages back to the ingest queue";
  if (!(await confirmAction(`Move ${what}?`))) return;
  await guarded(async () => {
    const result = await api("/api/dlq/redrive", { method: "POST", body: JSON.stringify(route ? { target: route } : {}) });
    const note = $("redrive-result");
    note.textContent = `Redrive: ${result.moved.filter((m) => m.redriven).length} of ${result.moved.length} moved.`;
    note.hidden = false;
    await loadDlq();
  });
}

// ------------------------------------------------------------------ start

async function start() {
  await guarded(async () => {
    state.meta = await api("/api/meta");
    $("env").textContent = `${state.meta.env} · ${state.meta.stack}${state.meta.emulated ? " · emulator" : ` · ${state.meta.region}`}`;
    const form = $("filters");
    form.elements.provider.append(...state.meta.providers.map((p) => el("option", { value: p }, p)));
    form.elements.status.append(...state.meta.statuses.map((s) => el("option", { value: s }, s)));
  });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.paged = false;
    guarded(refreshDeliveries);
  });
  $("more").addEventListener("click", olderDeliveries);
  $("replay").addEventListener("click", replayDelivery);
  $("redrive").addEventListener("click", () => redrive(null));
  window.addEventListener("hashchange", route);
  route();
}

start();
