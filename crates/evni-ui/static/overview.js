// Draws the overview's anomalous sessions per day, one line per category,
// with uPlot from the JSON block #by-category-data. The table below the
// chart gives the same totals without script.
(function () {
  "use strict";
  var COLOURS = ["#1f5fbf", "#b35c00", "#2e7d32", "#8e24aa", "#c62828", "#00838f",
    "#6d4c41", "#ad1457", "#558b2f", "#283593", "#ef6c00", "#455a64"];

  function draw() {
    var holder = document.getElementById("by-category");
    var source = document.getElementById("by-category-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (data.series.length === 0) {
      holder.textContent = "No anomalous sessions in the last 30 days.";
      holder.setAttribute("data-drawn", "true");
      holder.setAttribute("data-series", "0");
      return;
    }
    var series = [{}];
    var columns = [data.days];
    data.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: true, size: 4 } });
      columns.push(s.values);
    });
    var opts = {
      width: Math.max(280, holder.clientWidth),
      height: 260,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      series: series,
      axes: [{}, { label: "sessions" }]
    };
    var plot = new uPlot(opts, columns, holder);
    holder.setAttribute("data-drawn", "true");
    holder.setAttribute("data-series", String(data.series.length));
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(280, holder.clientWidth), height: 260 });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
