// Draws a station's sessions and energy per day against SHADE's baseline
// (dashed) with uPlot from the JSON block #daily-data.
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("daily");
    var source = document.getElementById("daily-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    var opts = {
      width: Math.max(280, holder.clientWidth),
      height: 260,
      scales: { x: { time: true }, n: {}, kwh: {} },
      series: [
        {},
        { label: "Sessions", scale: "n", stroke: "#1f5fbf", width: 2 },
        { label: "Sessions baseline", scale: "n", stroke: "#1f5fbf", width: 1, dash: [6, 4] },
        { label: "Energy (kWh)", scale: "kwh", stroke: "#b35c00", width: 2 },
        { label: "Energy baseline", scale: "kwh", stroke: "#b35c00", width: 1, dash: [6, 4] }
      ],
      axes: [{}, { scale: "n", label: "sessions" }, { scale: "kwh", label: "kWh", side: 1, grid: { show: false } }]
    };
    var plot = new uPlot(opts, [data.days, data.sessions, data.baseline_sessions, data.energy, data.baseline_energy], holder);
    holder.setAttribute("data-drawn", "true");
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
