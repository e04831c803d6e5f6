// The segment page's bar chart: each learned segment's share of customers beside its share of value.
(function () {
  const canvas = document.getElementById("segment-chart");
  const source = document.getElementById("segment-chart-data");
  if (!canvas || !source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const d = canvas.dataset;
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        {label: d.labelSize, data: data.sizes, backgroundColor: "#6c9bd2"},
        {label: d.labelValue, data: data.value_shares, backgroundColor: "#c9a227"},
      ],
    },
    options: {
      animation: false, indexAxis: "y",
      scales: {x: {min: 0, max: 100, ticks: {callback: (v) => v + "%"}}},
      plugins: {tooltip: {callbacks: {label: (c) => c.dataset.label + ": " + c.parsed.x.toFixed(1) + "%"}}},
    },
  });
})();
