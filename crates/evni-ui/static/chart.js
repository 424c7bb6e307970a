// Draws a session's chart with uPlot from the JSON block #chart-data:
// energy (kWh), power (kW) and SoC (%), the 15-minute buckets of the analysed
// window as grid lines and each anomaly's range shaded and labelled.
(function () {
  "use strict";

  function shade(u, data) {
    var ctx = u.ctx;
    var top = u.bbox.top;
    var height = u.bbox.height;
    ctx.save();
    // Buckets of the analysed window.
    ctx.strokeStyle = "rgba(90, 90, 110, 0.25)";
    ctx.lineWidth = 1;
    data.buckets.forEach(function (t) {
      var x = Math.round(u.valToPos(t, "x", true)) + 0.5;
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    });
    // Anomaly ranges, labelled at their top left.
    ctx.font = Math.round(11 * devicePixelRatio) + "px system-ui, sans-serif";
    data.anomalies.forEach(function (a, i) {
      var x0 = u.valToPos(a.start, "x", true);
      var x1 = u.valToPos(a.end, "x", true);
      ctx.fillStyle = "rgba(200, 30, 30, 0.14)";
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      ctx.fillStyle = "rgb(150, 20, 20)";
      ctx.fillText(a.label, x0 + 4 * devicePixelRatio, top + (14 + 14 * i) * devicePixelRatio);
    });
    ctx.restore();
  }

  function draw() {
    var holder = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (data.x.length === 0) {
      holder.textContent = "No energy, power or SoC readings to draw.";
      return;
    }
    var xs = data.x.slice();
    // The x range covers the anomaly ranges and buckets too.
    var min = Math.min.apply(null, xs.concat(data.buckets.slice(0, 1)));
    var max = Math.max.apply(null, xs.concat(data.anomalies.map(function (a) { return a.end; })));
    var opts = {
      width: Math.max(280, holder.clientWidth),
      height: 320,
      scales: {
        x: { time: true, range: function () { return [min, max]; } },
        kwh: {},
        kw: {},
        pct: { range: [0, 100] }
      },
      series: [
        {},
        { label: "Energy (kWh)", scale: "kwh", stroke: "#1f5fbf", width: 2, spanGaps: true },
        { label: "Power (kW)", scale: "kw", stroke: "#b35c00", width: 1.5, spanGaps: true },
        { label: "SoC (%)", scale: "pct", stroke: "#2e7d32", width: 1.5, dash: [6, 4], spanGaps: true }
      ],
      axes: [
        {},
        { scale: "kwh", label: "kWh" },
        { scale: "kw", label: "kW", side: 1, grid: { show: false } },
        { scale: "pct", label: "%", side: 1, grid: { show: false } }
      ],
      hooks: { drawClear: [function (u) { shade(u, data); }] }
    };
    var plot = new uPlot(opts, [xs, data.energy, data.power, data.soc], holder);
    holder.setAttribute("data-drawn", "true");
    holder.setAttribute("data-anomaly-ranges", String(data.anomalies.length));
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(280, holder.clientWidth), height: 320 });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
