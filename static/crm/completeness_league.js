(function () {
  const canvas = document.getElementById("completeness-chart");
  if (!canvas || !window.Chart) return;
  const labels = canvas.dataset.labels ? canvas.dataset.labels.split("|") : [];
  const values = canvas.dataset.values ? canvas.dataset.values.split("|").map(Number) : [];
  const threshold = Number(canvas.dataset.threshold || 80);
  new Chart(canvas, {
    type: "bar",
    data: {labels: labels, datasets: [{data: values, backgroundColor: values.map(v => v >= threshold ? "#198754" : "#ffc107")}]},
    options: {indexAxis: "y", scales: {x: {min: 0, max: 100}}, plugins: {legend: {display: false}}},
  });
})();
