// Each scorecard line's trend over the last periods: a small line chart drawn from data-values
// (empty values are periods without a figure).
(function () {
  if (!window.Chart) return;
  document.querySelectorAll("canvas.kpi-trend").forEach(function (canvas) {
    const values = (canvas.dataset.values || "").split(",").map(function (v) { return v === "" ? null : Number(v); });
    new Chart(canvas, {
      type: "line",
      data: {labels: values.map(function (_v, i) { return i; }),
             datasets: [{data: values, borderColor: "#0d6efd", borderWidth: 1.5, pointRadius: 1.5, spanGaps: true}]},
      options: {animation: false, responsive: false, plugins: {legend: {display: false}, tooltip: {enabled: false}},
                scales: {x: {display: false}, y: {display: false}}},
    });
  });
})();
