/**
 * The report page's inline CSS and script (plain ES2017, no libraries, no network). The script reads
 * the chart data from #bench-data and draws SVG: histograms with median / p99 markers and line
 * charts with a hover read-out.
 */

export const HTML_STYLE = String.raw`
:root { --bg: #f5f6fa; --card: #fff; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
header { background: linear-gradient(120deg, #172554, #3730a3 60%, #6d28d9); color: #fff; padding: 22px 32px 18px; }
.brand { font-size: 11.5px; letter-spacing: .14em; text-transform: uppercase; opacity: .7; }
h1 { margin: 2px 0 12px; font-size: 26px; font-weight: 650; word-break: break-all; }
h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.meta { display: flex; flex-wrap: wrap; gap: 8px; }
.meta span { background: rgba(255,255,255,.14); border-radius: 999px; padding: 2px 11px; font-size: 12.5px; }
.meta .warn { background: #f59e0b; color: #111; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 40px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(175px, 1fr)); gap: 12px; margin-bottom: 16px; }
.card, .chart-box, .panel { background: var(--card); border-radius: 10px; box-shadow: 0 1px 2px rgba(15,23,42,.06), 0 0 0 1px var(--line); }
.card { padding: 12px 15px; }
.card .label { color: var(--muted); font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; }
.card .value { font-size: 25px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .unit { font-size: 13px; font-weight: 500; color: var(--muted); margin-left: 2px; }
.card .note { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(400px, 1fr)); gap: 14px; }
.chart-box { margin: 0; padding: 12px 14px 8px; }
figcaption { display: flex; justify-content: space-between; align-items: baseline; gap: 10px; margin-bottom: 2px; }
figcaption .title { font-weight: 600; }
figcaption .caption { color: var(--muted); font-size: 12px; white-space: nowrap; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
svg .gl { stroke: #eef0f5; }
svg .axis { stroke: #9ca3af; }
svg .tick { font-size: 11px; fill: #6b7280; }
svg .axis-label { font-size: 11.5px; fill: #4b5563; }
svg .bar:hover { opacity: .72; }
svg .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .area { opacity: .13; }
svg .mk { stroke-width: 1.5; }
svg .mk.median { stroke: #111827; }
svg .mk.p99 { stroke: #dc2626; stroke-dasharray: 5 4; }
svg .mk-label { font-size: 11px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .mk-label.median { fill: #111827; }
svg .mk-label.p99 { fill: #dc2626; }
svg .note { font-size: 11px; fill: #9ca3af; }
svg .empty { font-size: 13px; fill: #9ca3af; }
svg .focus { stroke: #9ca3af; stroke-dasharray: 3 3; }
.lower { display: grid; grid-template-columns: repeat(auto-fit, minmax(400px, 1fr)); gap: 14px; margin-top: 14px; }
.panel { padding: 14px 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
td { padding: 3px 6px; border-bottom: 1px solid #f1f2f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.section th { text-align: left; padding: 10px 6px 3px; font-size: 12px; color: #4338ca; border-bottom: 1px solid var(--line); }
table.kv { margin-bottom: 14px; }
ul.errors { margin: 0; padding-left: 18px; color: #b91c1c; font-size: 12.5px; word-break: break-word; }
p.ok { color: #15803d; margin: 0; }
.tip { position: fixed; pointer-events: none; background: #111827; color: #fff; font-size: 12px; padding: 4px 8px; border-radius: 5px; white-space: nowrap; z-index: 10; }
`;

export const HTML_SCRIPT = String.raw`
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("bench-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var W = 560, H = 270, M = { l: 54, r: 16, t: 30, b: 42 };
  var tip = document.getElementById("tip");

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }
  function label(parent, x, y, s, cls, anchor) {
    var t = el("text", { x: x, y: y, "class": cls || "", "text-anchor": anchor || "middle" }, parent);
    t.textContent = s;
    return t;
  }
  function maxOf(a) { var m = -Infinity; for (var i = 0; i < a.length; i++) if (a[i] > m) m = a[i]; return m; }
  function niceStep(x) {
    if (!(x > 0) || !isFinite(x)) return 1;
    var p = Math.pow(10, Math.floor(Math.log(x) / Math.LN10)), ms = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < ms.length; i++) if (ms[i] * p >= x * (1 - 1e-9)) return ms[i] * p;
    return 10 * p;
  }
  function niceTop(v) { if (!(v > 0)) return 1; var s = niceStep(v / 5); return Math.ceil(v * 1.04 / s) * s; }
  function ticks(lo, hi, n) {
    var s = niceStep((hi - lo) / n), out = [];
    for (var v = Math.ceil(lo / s - 1e-9) * s; v <= hi + s * 1e-6; v += s) out.push(Math.abs(v) < s * 1e-9 ? 0 : v);
    return out;
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return String(Math.round(v * 100) / 100);
    return String(Number(v.toPrecision(2)));
  }
  function showTip(ev, s) {
    tip.textContent = s;
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 8) x = ev.clientX - tip.offsetWidth - 10;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { tip.hidden = true; }

  function frame(host, xr, yr, xLabel, yLabel) {
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, "class": "chart", role: "img", "aria-label": yLabel + " by " + xLabel }, host);
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    var x = function (v) { return M.l + (v - xr[0]) / ((xr[1] - xr[0]) || 1) * pw; };
    var y = function (v) { return M.t + ph - (v - yr[0]) / ((yr[1] - yr[0]) || 1) * ph; };
    var g = el("g", { "class": "axes" }, svg);
    ticks(yr[0], yr[1], 5).forEach(function (v) {
      el("line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), "class": "gl" }, g);
      label(g, M.l - 7, y(v) + 4, fmt(v), "tick", "end");
    });
    ticks(xr[0], xr[1], 6).forEach(function (v) {
      el("line", { x1: x(v), x2: x(v), y1: M.t + ph, y2: M.t + ph + 4, "class": "axis" }, g);
      label(g, x(v), M.t + ph + 17, fmt(v), "tick");
    });
    el("line", { x1: M.l, x2: W - M.r, y1: M.t + ph, y2: M.t + ph, "class": "axis" }, g);
    label(g, M.l + pw / 2, H - 5, xLabel, "axis-label");
    var yl = label(g, 13, M.t + ph / 2, yLabel, "axis-label");
    yl.setAttribute("transform", "rotate(-90 13 " + (M.t + ph / 2) + ")");
    return { svg: svg, x: x, y: y, pw: pw, ph: ph };
  }
  function empty(host, what) {
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, "class": "chart" }, host);
    label(svg, W / 2, H / 2, "no " + what, "empty");
    svg.setAttribute("data-rendered", "1");
  }
  function marker(f, v, cls, text, row) {
    var x = f.x(v);
    el("line", { x1: x, x2: x, y1: M.t - 2, y2: M.t + f.ph, "class": "mk " + cls }, f.svg);
    var right = x > M.l + f.pw * 0.68;
    label(f.svg, right ? x - 5 : x + 5, M.t + 11 + row * 15, text, "mk-label " + cls, right ? "end" : "start");
  }

  function hist(id, h, color, what) {
    var host = document.getElementById(id);
    if (!host) return;
    if (h.numValues === 0) return empty(host, what);
    var e = h.edges, c = h.counts;
    var f = frame(host, [e[0], e[e.length - 1]], [0, niceTop(maxOf(c))], "milliseconds", "count");
    var g = el("g", { "class": "bars" }, f.svg);
    c.forEach(function (n, i) {
      var x0 = f.x(e[i]), x1 = f.x(e[i + 1]);
      var r = el("rect", { x: x0 + 0.5, y: f.y(n), width: Math.max(0.6, x1 - x0 - 1), height: Math.max(0, f.y(0) - f.y(n)), fill: color, rx: 1.5, "class": "bar" }, g);
      var s = fmt(e[i]) + " to " + fmt(e[i + 1]) + " ms: " + n + " (" + (100 * n / h.numValues).toFixed(1) + "%)";
      r.addEventListener("mousemove", function (ev) { showTip(ev, s); });
      r.addEventListener("mouseleave", hideTip);
    });
    marker(f, h.median, "median", "median " + fmt(h.median) + " ms", 0);
    marker(f, h.p99, "p99", "p99 " + fmt(h.p99) + " ms", 1);
    if (h.numOverflow > 0) label(f.svg, W - M.r, 12, h.numOverflow + " beyond the axis (max " + fmt(h.max) + " ms)", "note", "end");
    f.svg.setAttribute("data-rendered", "1");
  }

  function series(id, s, color, yLabel, unit, step) {
    var host = document.getElementById(id);
    if (!host) return;
    if (s.t.length === 0) return empty(host, yLabel);
    var xMax = Math.max(s.t[s.t.length - 1], 1e-3);
    var f = frame(host, [0, xMax], [0, niceTop(maxOf(s.y))], "seconds since start", yLabel);
    var d = "", i;
    for (i = 0; i < s.t.length; i++) {
      var px = f.x(s.t[i]).toFixed(1), py = f.y(s.y[i]).toFixed(1);
      d += i === 0 ? "M" + px + "," + py : step ? "H" + px + "V" + py : "L" + px + "," + py;
    }
    var base = f.y(0).toFixed(1);
    el("path", { d: d + "V" + base + "H" + f.x(s.t[0]).toFixed(1) + "Z", fill: color, "class": "area" }, f.svg);
    el("path", { d: d, stroke: color, "class": "line" }, f.svg);
    var focus = el("line", { y1: M.t, y2: M.t + f.ph, "class": "focus", visibility: "hidden" }, f.svg);
    var dot = el("circle", { r: 4, fill: color, stroke: "#fff", "stroke-width": 2, visibility: "hidden" }, f.svg);
    var hit = el("rect", { x: M.l, y: M.t, width: f.pw, height: f.ph, fill: "transparent" }, f.svg);
    hit.addEventListener("mousemove", function (ev) {
      var m = f.svg.getScreenCTM();
      if (!m) return;
      var p = f.svg.createSVGPoint();
      p.x = ev.clientX; p.y = ev.clientY;
      var sx = p.matrixTransform(m.inverse()).x;
      var t = (sx - M.l) / f.pw * xMax, k = 0;
      if (step) { while (k + 1 < s.t.length && s.t[k + 1] <= t) k++; }
      else { for (var j = 1; j < s.t.length; j++) if (Math.abs(s.t[j] - t) < Math.abs(s.t[k] - t)) k = j; }
      var cx = step ? Math.max(M.l, Math.min(sx, M.l + f.pw)) : f.x(s.t[k]);
      focus.setAttribute("x1", cx); focus.setAttribute("x2", cx); focus.setAttribute("visibility", "visible");
      dot.setAttribute("cx", cx); dot.setAttribute("cy", f.y(s.y[k])); dot.setAttribute("visibility", "visible");
      showTip(ev, (step ? t : s.t[k]).toFixed(2) + " s: " + fmt(s.y[k]) + " " + unit);
    });
    hit.addEventListener("mouseleave", function () { hideTip(); focus.setAttribute("visibility", "hidden"); dot.setAttribute("visibility", "hidden"); });
    f.svg.setAttribute("data-rendered", "1");
  }

  series("chart-throughput", D.throughput, "#2563eb", "output tokens/s", "tok/s", false);
  series("chart-concurrency", D.concurrency, "#7c3aed", "requests in flight", "requests", true);
  hist("chart-ttft", D.hist.ttft, "#0891b2", "TTFT values");
  hist("chart-tpot", D.hist.tpot, "#ea580c", "TPOT values");
  hist("chart-itl", D.hist.itl, "#16a34a", "inter-token gaps");
  hist("chart-e2el", D.hist.e2el, "#db2777", "latencies");
  document.body.setAttribute("data-charts", String(document.querySelectorAll("svg.chart[data-rendered]").length));
})();
`;
