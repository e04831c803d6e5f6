// The complaint report's charts: SLA compliance by month per branch and per category.
(function () {
  if (!window.Chart) return;
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const months = read("report-months"), labels = document.getElementById("report-labels").dataset;
  const palette = ["#0d6efd", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997", "#6c757d", "#d63384", "#0dcaf0"];
  const scales = {y: {min: 0, max: 100, title: {display: true, text: labels.percent}}};
  const line = (s, i, name) => ({type: "line", label: name, data: s.by_month, borderColor: palette[i % palette.length],
                                  backgroundColor: palette[i % palette.length], spanGaps: true, tension: 0.2});
  new Chart(document.getElementById("branch-chart"), {type: "bar", options: {scales: scales}, data: {labels: months, datasets: [
    {type: "bar", label: labels.all, data: read("report-overall"), backgroundColor: "rgba(108,117,125,.35)"},
    ...read("report-branches").map((s, i) => line(s, i, s.row.branch__code + " " + s.row.branch__name)),
  ]}});
  new Chart(document.getElementById("category-chart"), {type: "line", options: {scales: scales}, data: {labels: months,
    datasets: read("report-categories").map((s, i) => line(s, i, s.label))}});
})();
