// supplysync dashboard: polls /dashboard/feed.json every 2 s and draws it (no framework,
// no build step).  Every text goes in through textContent: nothing the feed says is HTML.
"use strict";
(function () {
  const POLL_MS = 2000;
  const COLORS = ["#0b57d0", "#b00020", "#1b6e20", "#8a5a00", "#6a1b9a", "#00695c", "#37474f"];
  // SLOs (p99 lag, seconds) from the page's address: ?slo=po_dispatch:300,po_acknowledgment:900
  const SLO = {};
  (new URLSearchParams(location.search).get("slo") || "").split(",").forEach((pair) => {
    const [flow, s] = pair.split(":");
    if (flow && Number(s) > 0) SLO[flow] = Number(s);
  });
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }
  function secs(s) {
    if (s === null || s === undefined) return "—";
    if (s < 1) return (s * 1000).toFixed(0) + " ms";
    if (s < 120) return s.toFixed(s < 10 ? 2 : 1) + " s";
    return (s / 60).toFixed(1) + " min";
  }
  function ago(s) { return s === null || s === undefined ? "never" : secs(s) + " ago"; }
  function rows(tbody, list, render, empty) {
    const body = $(tbody);
    body.replaceChildren(...(list.length ? list.map(render)
      : [el("tr", {}, el("td", { colspan: String(body.closest("table").tHead.rows[0].cells.length) }, empty))]));
  }

  function drawHealth(feed) {
    rows("health-rows", feed.health, (h) => el("tr", { "data-target": h.target },
      el("th", { scope: "row" }, h.target),
      el("td", {}, el("span", { class: "badge " + h.circuit, "data-circuit": h.circuit }, h.circuit.replace("_", "-"))),
      el("td", {}, ago(h.last_success_age_s)),
      el("td", {}, h.error_rate_1m === null ? "—" : (h.error_rate_1m * 100).toFixed(0) + " %"),
      el("td", {}, h.retries_1m), el("td", {}, h.calls_1m), el("td", {}, h.given_up),
      el("td", {}, h.last_error ? h.last_error + " (" + ago(h.last_error_age_s) + ")" : "—")),
      "no call made yet");
    rows("gap-rows", feed.gaps, (g) => el("tr", {},
      el("th", { scope: "row" }, g.feed), el("td", {}, g.highest),
      el("td", { class: g.missing ? "over" : "" }, g.missing),
      el("td", {}, g.oldest_missing_age_s === null ? "—" : secs(g.oldest_missing_age_s))),
      "no numbered webhook received yet");
    rows("site-rows", feed.sites, (s) => el("tr", {},
      el("th", { scope: "row" }, s.site), el("td", {}, s.pos), el("td", {}, secs(s.lag_p95_s)),
      el("td", {}, s.failed_calls), el("td", {}, s.dead_letters), el("td", {}, s.open_exceptions)),
      "no PO seen yet");
  }

  const SVGNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function drawLag(feed) {
    const lag = feed.lag, chart = $("lag-chart");
    const W = 600, H = 220, L = 48, B = 20, T = 8;
    let top = 0;
    lag.series.forEach((s) => s.points.forEach((p) => { top = Math.max(top, p[1]); }));
    const slos = lag.series.map((s) => SLO[s.flow]).filter((v) => v);
    const yMax = Math.max(top, ...slos.filter((v) => v < top * 3), 0.01) * 1.1;
    const x = (t) => L + (W - L - 4) * (1 + t / lag.window_s);
    const y = (v) => H - B - (H - B - T) * (v / yMax);
    const kids = [svg("title", { id: "lag-chart-title" },
      lag.series.length ? "Lag chart: highest p95 " + secs(top) + " over the last " + secs(lag.window_s)
        : "Lag chart: no write observed yet")];
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      kids.push(svg("line", { x1: L, x2: W, y1: y(v), y2: y(v), stroke: "#ddd" }));
      kids.push(svg("text", { x: 2, y: y(v) + 4, "font-size": 10, fill: "#333" }, secs(v)));
    }
    kids.push(svg("text", { x: L, y: H - 4, "font-size": 10, fill: "#333" }, "−" + secs(lag.window_s)));
    kids.push(svg("text", { x: W - 30, y: H - 4, "font-size": 10, fill: "#333" }, "now"));
    const legend = [];
    lag.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = s.points.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ");
      if (s.points.length === 1) {
        const [px, py] = pts.split(",");
        kids.push(svg("circle", { cx: px, cy: py, r: 3, fill: color }));
      } else kids.push(svg("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2 }));
      const slo = SLO[s.flow];
      if (slo && slo <= yMax) kids.push(svg("line", { x1: L, x2: W, y1: y(slo), y2: y(slo), stroke: color,
        "stroke-dasharray": "6 4" }));
      legend.push(el("span", {}, el("i", { style: "background:" + color }), s.flow + " / " + s.lane));
    });
    chart.replaceChildren(...kids);
    chart.setAttribute("data-max-lag", String(top));
    $("lag-legend").replaceChildren(...legend);
    rows("lag-rows", lag.series, (s) => {
      const slo = SLO[s.flow];
      const verdict = slo === undefined ? "not given" : (s.p99 <= slo ? "met" : "missed");
      return el("tr", { "data-flow": s.flow, "data-lane": s.lane },
        el("th", { scope: "row" }, s.flow), el("td", {}, s.lane), el("td", {}, s.n),
        el("td", {}, secs(s.p50)), el("td", {}, secs(s.p95)), el("td", {}, secs(s.p99)),
        el("td", {}, secs(s.max)),
        el("td", { class: verdict === "missed" ? "over" : verdict === "met" ? "within" : "" },
          slo === undefined ? "not given" : secs(slo) + ": " + verdict));
    }, "no write observed yet");
  }

  function drawCycle(feed) {
    rows("cycle-rows", feed.cycle.stages, (s) => el("tr", {},
      el("th", { scope: "row" }, s.stage), el("td", {}, s.n), el("td", {}, secs(s.p50)),
      el("td", {}, secs(s.p95)), el("td", {}, secs(s.max))), "no PO has moved a stage yet");
    const r = feed.cycle.furthest_stage;
    $("cycle-reached").textContent = "POs by furthest stage: " +
      Object.entries(r).map(([k, v]) => k + " " + v).join(", ");
  }

  function drawQueues(feed) {
    const targets = Object.entries(feed.backlog.by_target);
    rows("backlog-rows", targets, ([t, lanes]) => el("tr", {},
      el("th", { scope: "row" }, t), el("td", {}, lanes.critical), el("td", {}, lanes.routine)),
      "nothing pending");
    rows("exception-rows", feed.exceptions, (e) => el("tr", {},
      el("th", { scope: "row" }, e.kind), el("td", {}, e.po_number + " / " + e.line_no),
      el("td", {}, e.ordered + " / " + e.confirmed), el("td", {}, secs(e.age_s))),
      "no open exception");
    rows("dlq-rows", feed.dead_letters, (d) => el("tr", { "data-letter": String(d.id) },
      el("th", { scope: "row" }, "#" + d.id),
      el("td", {}, d.kind + (d.target ? " → " + d.target : "")),
      el("td", {}, d.po_number || (d.trace_id ? d.trace_id.slice(0, 12) + "…" : "—")),
      el("td", {}, d.reason), el("td", {}, secs(d.age_s)),
      el("td", {},
        el("button", { type: "button", "data-action": "replay", "data-id": String(d.id),
          "aria-label": "Replay dead letter " + d.id }, "Replay"), " ",
        el("button", { type: "button", "data-action": "discard", "data-id": String(d.id),
          "aria-label": "Discard dead letter " + d.id + "…" }, "Discard…"))),
      "no open dead letter");
  }

  // With access on (serve --auth), open the page as /dashboard#token=<JWT>: the token stays
  // in this tab (sessionStorage, never in a URL sent to the server) and goes with every call.
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (given) {
    sessionStorage.setItem("supplysync-token", given);
    history.replaceState(null, "", location.pathname);
  }
  function auth(extra) {
    const token = sessionStorage.getItem("supplysync-token");
    return token ? Object.assign({}, extra, { authorization: "Bearer " + token }) : (extra || {});
  }

  let failures = 0;
  async function poll() {
    try {
      const r = await fetch("/v1/experience/dashboard/feed.json", { cache: "no-store", headers: auth() });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const feed = await r.json();
      const st = feed.status;
      $("summary").textContent = "store " + st.store + " · handled " + st.messages_handled +
        " · outbox pending " + st.outbox_pending + " · dead letters " + feed.dead_letters.length +
        " open · " + feed.now;
      drawHealth(feed); drawLag(feed); drawCycle(feed); drawQueues(feed);
      $("feed-state").textContent = failures ? "reconnected" : "";
      failures = 0;
    } catch (e) {
      failures += 1;
      $("feed-state").textContent = "the core does not answer (" + e.message + "); retrying";
    }
  }

  async function act(url, body) {
    const r = await fetch(url, { method: "POST", headers: auth({ "content-type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await r.json().catch(() => ({}));
    return r.ok ? null : (answer.detail || "HTTP " + r.status);
  }
  let discarding = null;
  $("dlq-rows").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const id = b.getAttribute("data-id");
    if (b.getAttribute("data-action") === "replay") {
      b.disabled = true;
      const err = await act("/v1/process/dead-letters/" + id + "/replay");
      $("dlq-message").textContent = err ? "replay of #" + id + " failed: " + err : "#" + id + " replayed";
      await poll();
    } else {
      discarding = id;
      $("discard-title").textContent = "Discard dead letter #" + id;
      $("discard-reason").value = "";
      $("discard-dialog").showModal();
    }
  });
  $("discard-cancel").addEventListener("click", () => $("discard-dialog").close());
  $("discard-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const reason = $("discard-reason").value.trim();
    if (!reason) { $("discard-reason").focus(); return; }
    $("discard-dialog").close();
    const err = await act("/v1/process/dead-letters/" + discarding + "/discard", { reason });
    $("dlq-message").textContent = err ? "discard of #" + discarding + " failed: " + err
      : "#" + discarding + " discarded: " + reason;
    await poll();
  });

  function view(name, data) {
    return el("div", { "data-system": name }, el("h4", {}, name),
      el("pre", {}, JSON.stringify(data, null, 1)));
  }
  $("story-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("story-q").value.trim();
    const out = $("story-out");
    if (!q) return;
    out.replaceChildren(el("p", {}, "looking up " + q + " …"));
    const r = await fetch("/v1/experience/dashboard/story.json?q=" + encodeURIComponent(q),
      { headers: auth() });
    const s = await r.json();
    if (!r.ok) { out.replaceChildren(el("p", { role: "alert" }, s.detail || "not found")); return; }
    const stages = Object.entries(s.stages).map(([k, v]) => k + " " + v.slice(11)).join(" → ");
    const core = s.systems.core || {};
    const coreView = Object.fromEntries(Object.entries(core).map(([k, v]) => [k, "revision " + v.version]));
    out.replaceChildren(
      el("h3", { id: "story-title" }, "PO " + (s.po_number || "?") + " · trace " + s.trace_id +
        (s.site ? " · site " + s.site : "")),
      el("p", {}, "Stages: " + (stages || "none seen in the last minutes")),
      el("div", { class: "views" }, view("core", coreView), view("erp", s.systems.erp || "—"),
        view("supplier", s.systems.supplier), view("wms", s.systems.wms), view("ap", s.systems.ap)),
      el("h3", {}, "Timeline (" + s.timeline.length + " events)"),
      el("ol", { class: "timeline", id: "story-timeline" }, ...s.timeline.map((e) => el("li", {},
        el("span", { class: "t" }, e.at.slice(11)), e.what + " · " + e.where +
        (e.lane ? " (" + e.lane + ")" : "") + (e.detail ? " — " + e.detail : "")))));
  });

  poll();
  setInterval(poll, POLL_MS);
})();
