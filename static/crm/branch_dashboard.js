(function () {
  const canvas = document.getElementById("stage-chart");
  if (!canvas || !window.Chart) return;
  const labels = canvas.dataset.labels ? canvas.dataset.labels.split("|") : [];
  const codes = canvas.dataset.codes ? canvas.dataset.codes.split("|") : [];
  const values = canvas.dataset.values ? canvas.dataset.values.split("|").map(Number) : [];
  const colours = {prospect: "#0d6efd", customer: "#0dcaf0", loyal: "#198754", dormant: "#ffc107", closed: "#6c757d"};
  new Chart(canvas, {
    type: "bar",
    data: {labels: labels, datasets: [{data: values, backgroundColor: codes.map(c => colours[c] || "#adb5bd")}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}},
  });
})();
