// The Lorenz (Pareto) curve of the value page, with the diagonal of equal value and the top-20% point.
(function () {
  const canvas = document.getElementById("lorenz-chart");
  const source = document.getElementById("lorenz-points");
  if (!canvas || !source || !window.Chart) return;
  const points = JSON.parse(source.textContent).map(([x, y]) => ({x: x * 100, y: y * 100}));
  const top20 = Number(canvas.dataset.top20) * 100;
  const d = canvas.dataset;
  new Chart(canvas, {
    type: "line",
    data: {
      datasets: [
        {label: d.labelCurve, data: points, borderColor: "#c9a227", backgroundColor: "rgba(201,162,39,0.15)",
         fill: true, pointRadius: 0, tension: 0},
        {label: d.labelEqual, data: [{x: 0, y: 0}, {x: 100, y: 100}], borderColor: "#adb5bd",
         borderDash: [4, 4], pointRadius: 0},
        {label: d.labelPoint + ": " + top20.toFixed(1) + "%", data: [{x: 20, y: top20}], borderColor: "#dc3545",
         backgroundColor: "#dc3545", pointRadius: 6, showLine: false},
      ],
    },
    options: {
      parsing: false, animation: false,
      scales: {
        x: {type: "linear", min: 0, max: 100, title: {display: true, text: d.labelCustomers + " (%)"}},
        y: {min: 0, max: 100, title: {display: true, text: d.labelValue + " (%)"}},
      },
      plugins: {tooltip: {callbacks: {label: (c) => c.parsed.x.toFixed(1) + "% → " + c.parsed.y.toFixed(1) + "%"}}},
    },
  });
})();
