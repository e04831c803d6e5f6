// The diagnosis waterfall: the first bar is the start (target or last period), each driver floats
// from the running total, the last bar is the actual.
(function () {
  const canvas = document.getElementById("waterfall-chart");
  if (!canvas || !window.Chart) return;
  const labels = canvas.dataset.labels.split("|");
  const values = canvas.dataset.values.split(",").map(Number);
  const bars = [];
  const colours = [];
  let total = 0;
  values.forEach(function (value, i) {
    if (i === 0 || i === values.length - 1) {
      bars.push([0, value]);
      colours.push("#6c757d");
      total = value;
    } else {
      bars.push([total, total + value]);
      colours.push(value >= 0 ? "#198754" : "#dc3545");
      total += value;
    }
  });
  new Chart(canvas, {type: "bar", data: {labels: labels, datasets: [{data: bars, backgroundColor: colours}]},
    options: {animation: false, plugins: {legend: {display: false}}}});
})();
