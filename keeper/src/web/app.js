// Verity keeper status page: reads the keeper's JSON API and renders it. No framework, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#3559e0", "#12b76a", "#f79009", "#ee46bc", "#06aed4", "#7a5af8", "#f04438", "#667085"];

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const [value, cls] of cells) tr.appendChild(text("td", String(value), cls));
  return tr;
}

function short(hex) {
  return hex && hex.length > 14 ? hex.slice(0, 8) + "…" + hex.slice(-4) : hex;
}

function age(seconds) {
  if (seconds == null) return "–";
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " d";
}

function pct(x) {
  return x == null ? "–" : (100 * x).toFixed(1) + "%";
}

// 18-decimal wei (decimal string) → BR with 2 decimals, without floating-point loss on large values.
function br(wei) {
  const s = String(wei).padStart(19, "0");
  const whole = s.slice(0, -18).replace(/^0+(?=\d)/, "");
  return Number(whole + "." + s.slice(-18, -16)).toLocaleString("en-US", { minimumFractionDigits: 2 });
}

async function api(path) {
  const res = await fetch(path, { cache: "no-store" });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.status + " " + res.statusText);
  return body;
}

function fill(id, rows) {
  const body = $(id);
  body.replaceChildren(...rows);
}

function renderSummary(s) {
  $("block").textContent = s.block;
  $("block-time").textContent = new Date(s.block_time * 1000).toISOString().replace(".000Z", "Z");
  const c = s.counts;
  for (const [id, v] of [
    ["submitted", c.submitted], ["registered", c.registered], ["rejected", c.rejected],
    ["awaiting-storage", c.awaiting_storage], ["awaiting-registration", c.awaiting_registration],
    ["requests", c.requests], ["settled", c.settled], ["refunded", c.refunded],
    ["batches", c.batches], ["batches-final", c.batches_final], ["batches-voided", c.batches_voided],
  ]) $(id).textContent = v;
  $("oldest-pending").textContent =
    s.oldest_pending_since == null ? "none" : age(s.block_time - s.oldest_pending_since);
  fill("recent", s.recent_registrations.map((v) => row([
    [v.id, "num"], [v.name], [v.version, "num"], [v.relation], [v.parents.join(", ") || "–"], [v.tags.join(", ") || "–"],
  ])));
}

function renderBatches(list) {
  fill("batch-rows", list.map((b) => row([
    [b.batch_id, "num"], [b.status, b.status], [b.count, "num"], [short(b.submitter), "mono"], [b.void_reason || "–"],
  ])));
}

function renderNodes(list) {
  fill("nodes", list.map((n) => {
    const tr = row([
      [short(n.node), "mono"], [n.requests, "num"], [n.proven, "num"],
      [n.latency_p50 ?? "–", "num"], [n.latency_p99 ?? "–", "num"],
      [n.missed_deadlines, "num"], [n.voided_batches, "num"], [n.duplicates, "num"],
    ]);
    tr.dataset.node = n.node;
    return tr;
  }));
}

function renderRouting(view) {
  $("routing-note").textContent = view.accepting
    ? `Where ${view.clients} inference client(s) sent requests: share of answers, attempts, retries under the same request id, failures.`
    : "This keeper does not accept routing reports (--accept-routing-reports).";
  fill("routing", view.nodes.map((n) => {
    const tr = row([
      [short(n.node), "mono"], [pct(n.share), "num"], [n.answered, "num"], [n.attempts, "num"],
      [n.retries, "num"], [n.failures, "num"],
    ]);
    tr.dataset.node = n.node;
    return tr;
  }));
}

function renderEpochs(list) {
  fill("epochs", list.map((e) => {
    const tr = row([
      [e.epoch, "num"], [e.season, "num"], [br(e.emission), "num"], [e.voters, "num"], [e.cast, "num"],
      [pct(e.turnout), "num"], [pct(e.top1_share), "num"], [pct(e.top5_share), "num"], [e.nakamoto, "num"],
    ]);
    tr.dataset.epoch = e.epoch;
    return tr;
  }));
  // Stacked bars: each epoch's gauge weights as shares of its total.
  const gauges = [...new Set(list.flatMap((e) => e.gauges.map((g) => g.gauge)))];
  const color = (g) => COLORS[gauges.indexOf(g) % COLORS.length];
  const W = Math.max(320, list.length * 28 + 40), H = 160, bar = 20, base = H - 20;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "gauge weight shares per epoch");
  list.forEach((e, i) => {
    const x = 30 + i * 28;
    const total = e.gauges.reduce((a, g) => a + Number(g.weight), 0);
    let y = base;
    for (const g of e.gauges) {
      const h = total > 0 ? (Number(g.weight) / total) * (base - 10) : 0;
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", x); r.setAttribute("y", y - h); r.setAttribute("width", bar); r.setAttribute("height", h);
      r.setAttribute("fill", color(g.gauge));
      r.dataset.epoch = e.epoch;
      r.dataset.gauge = g.gauge;
      r.dataset.weight = g.weight;
      const title = document.createElementNS(ns, "title");
      title.textContent = `epoch ${e.epoch} ${g.gauge}: ${(100 * Number(g.weight) / total).toFixed(1)}%`;
      r.appendChild(title);
      svg.appendChild(r);
      y -= h;
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", x + 2); label.setAttribute("y", H - 6);
    label.textContent = e.epoch;
    svg.appendChild(label);
  });
  $("chart").replaceChildren(svg);
  $("legend").replaceChildren(...gauges.map((g) => {
    const span = text("span", short(g), "mono");
    const i = document.createElement("i");
    i.style.background = color(g);
    span.prepend(i);
    return span;
  }));
  // The wallet panel (wallet.js) marks the connected account's votes on the fresh chart.
  document.dispatchEvent(new CustomEvent("verity:epochs", { detail: list }));
}

async function lookupVersion(ev) {
  ev.preventDefault();
  const out = $("version-out");
  const id = $("version-id").value.trim();
  try {
    const d = await api("/api/versions/" + encodeURIComponent(id));
    const v = d.version;
    out.className = "out";
    out.textContent =
      `#${v.id} ${v.name} v${v.version}: ${v.status}` + (v.reason !== "None" ? ` (${v.reason})` : "") + "\n" +
      `relation ${v.relation}; parents ${v.parents.join(", ") || "none"}; ancestors ${d.ancestors.join(", ") || "none"}\n` +
      `children ${d.children.join(", ") || "none"}; versions of ${v.name}: ${d.name_versions.join(", ")}\n` +
      `owner ${v.owner}\ncontent ${v.content_hash} (${v.size} bytes) at ${v.storage_uri}`;
    out.dataset.status = v.status;
  } catch (e) {
    out.className = "out error";
    out.textContent = e.message;
    out.dataset.status = "error";
  }
}

async function lookupRequest(ev) {
  ev.preventDefault();
  const out = $("request-out");
  const id = $("request-id").value.trim();
  try {
    const r = await api("/api/requests/" + encodeURIComponent(id));
    out.className = "out";
    out.textContent =
      `${r.status}: model version ${r.model_version}, node ${r.node}, fee ${r.fee} wei\n` +
      `answered ${r.answered_at ?? "–"}, proven ${r.proven_at ?? "–"}` +
      (r.proven_by_batch ? ` (batch ${r.proven_by_batch})` : "") + `, closed ${r.closed_at ?? "–"}`;
    out.dataset.status = r.status;
  } catch (e) {
    out.className = "out error";
    out.textContent = e.message;
    out.dataset.status = "error";
  }
}

async function refresh() {
  try {
    const [summary, batches, nodes, epochs, routing] = await Promise.all([
      api("/api/summary"), api("/api/batches"), api("/api/nodes"), api("/api/epochs"), api("/api/routing"),
    ]);
    renderSummary(summary);
    renderBatches(batches);
    renderNodes(nodes);
    renderRouting(routing);
    renderEpochs(epochs);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "1";
  } catch (e) {
    $("status").textContent = "error: " + e.message;
  }
}

$("version-form").addEventListener("submit", lookupVersion);
$("request-form").addEventListener("submit", lookupRequest);
refresh();
setInterval(refresh, 3000);
