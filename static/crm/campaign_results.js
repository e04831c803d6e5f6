// A closed campaign's results: contacts per month (bars) and the month's conversion (line, right axis).
(function () {
  const canvas = document.getElementById("results-chart");
  if (!canvas || !window.Chart) return;
  const numbers = function (text) { return text ? text.split(",").map(Number) : []; };
  new Chart(canvas, {
    data: {
      labels: canvas.dataset.labels ? canvas.dataset.labels.split("|") : [],
      datasets: [
        {type: "bar", label: canvas.dataset.labelContacted, data: numbers(canvas.dataset.contacted),
         backgroundColor: "#0d6efd", yAxisID: "y"},
        {type: "line", label: canvas.dataset.labelRate, data: numbers(canvas.dataset.rate),
         borderColor: "#dc3545", backgroundColor: "#dc3545", yAxisID: "rate"},
      ],
    },
    options: {animation: false, scales: {y: {beginAtZero: true, position: "left"},
                                         rate: {beginAtZero: true, position: "right", grid: {drawOnChartArea: false}}}},
  });
})();
