// Cumulative gains of each model on its held-out part: share of positives caught by the top x% of
// scores, with the diagonal of random order and the top 20% / 50% points marked.
(function () {
  if (!window.Chart) return;
  document.querySelectorAll("canvas.gains-chart").forEach((canvas) => {
    const source = document.getElementById(canvas.dataset.points);
    if (!source) return;
    const points = JSON.parse(source.textContent).map(([x, y]) => ({x: x * 100, y: y * 100}));
    const at = (share) => (points.find((p) => Math.abs(p.x - share) < 1e-6) || {y: null}).y;
    const d = canvas.dataset;
    const marks = [20, 50].filter((share) => at(share) !== null).map((share) => ({x: share, y: at(share)}));
    new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          {label: d.labelCurve, data: points, borderColor: "#0d6efd", backgroundColor: "rgba(13,110,253,0.12)",
           fill: true, pointRadius: 2, tension: 0},
          {label: d.labelRandom, data: [{x: 0, y: 0}, {x: 100, y: 100}], borderColor: "#adb5bd",
           borderDash: [4, 4], pointRadius: 0},
          {label: d.labelPoints, data: marks, borderColor: "#dc3545", backgroundColor: "#dc3545", pointRadius: 6,
           showLine: false},
        ],
      },
      options: {
        parsing: false, animation: false,
        scales: {
          x: {type: "linear", min: 0, max: 100, title: {display: true, text: d.labelX + " (%)"}},
          y: {min: 0, max: 100, title: {display: true, text: d.labelY + " (%)"}},
        },
        plugins: {tooltip: {callbacks: {label: (c) => c.parsed.x.toFixed(0) + "% → " + c.parsed.y.toFixed(1) + "%"}}},
      },
    });
  });
})();
