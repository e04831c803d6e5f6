(function () {
  const palette = ["#0d6efd", "#198754", "#ffc107", "#dc3545", "#6f42c1", "#0dcaf0", "#fd7e14", "#6c757d"];
  let chart = null;
  function draw() {
    const canvas = document.getElementById("events-chart");
    if (!canvas || !window.Chart) return;
    const labels = canvas.dataset.labels ? canvas.dataset.labels.split("|") : [];
    const datasets = (canvas.dataset.series ? canvas.dataset.series.split("|") : []).map(function (part, i) {
      const cut = part.lastIndexOf(":");
      return {label: part.slice(0, cut), data: part.slice(cut + 1).split(",").map(Number),
              backgroundColor: palette[i % palette.length]};
    });
    if (chart) chart.destroy();
    chart = new Chart(canvas, {type: "bar", data: {labels: labels, datasets: datasets},
      options: {animation: false, scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}}});
  }
  draw();
  // The live part is swapped in every few seconds: draw its new figures.
  document.body.addEventListener("htmx:afterSettle", draw);
})();
