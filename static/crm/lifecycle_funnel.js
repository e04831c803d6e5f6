(function () {
  if (!window.Chart) return;
  const colours = {prospect: "#0d6efd", customer: "#0dcaf0", loyal: "#198754", dormant: "#ffc107", closed: "#6c757d"};
  const stages = document.getElementById("funnel-stages");
  if (stages) {
    const codes = stages.dataset.codes.split("|");
    new Chart(stages, {
      type: "bar",
      data: {
        labels: stages.dataset.labels.split("|"),
        datasets: [{data: stages.dataset.values.split("|").map(Number), backgroundColor: codes.map(c => colours[c] || "#adb5bd")}],
      },
      options: {indexAxis: "y", plugins: {legend: {display: false}}},
    });
  }
  const conversion = document.getElementById("funnel-conversion");
  const data = document.getElementById("funnel-conversion-data");
  if (conversion && data) {
    const chart = JSON.parse(data.textContent);
    const palette = ["#0d6efd", "#198754", "#ffc107", "#fd7e14", "#20c997", "#6c757d"];
    new Chart(conversion, {
      type: "line",
      data: {
        labels: chart.runs,
        datasets: chart.moves.map((label, i) => ({label: label, data: chart.rates[i], borderColor: palette[i % palette.length],
                                                  backgroundColor: palette[i % palette.length], spanGaps: true})),
      },
      options: {scales: {y: {beginAtZero: true, ticks: {callback: v => v + "%"}}}},
    });
  }
})();
