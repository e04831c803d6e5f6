// Channel analytics: weekly volume per channel (stacked), inbound against outbound, and the channel
// mix per branch (bars of 100%). Drawn from the page's json_script, again after each htmx swap.
(function () {
  const colours = {
    atm: "#6f42c1", call_centre: "#0d6efd", service_centre: "#20c997", branch: "#198754", web: "#0dcaf0",
    mobile: "#fd7e14", email: "#d63384", sms: "#ffc107", post: "#6c757d",
  };
  const directionColours = {inbound: "#198754", outbound: "#0d6efd"};
  const charts = [];

  function bar(canvas, labels, datasets, options) {
    if (!canvas) return;
    charts.push(new Chart(canvas, {type: "bar", data: {labels: labels, datasets: datasets},
                                   options: Object.assign({animation: false, aspectRatio: 2}, options)}));
  }

  function draw() {
    const source = document.getElementById("channel-analytics-data");
    while (charts.length) charts.pop().destroy();
    if (!source || !window.Chart) return;
    const data = JSON.parse(source.textContent);
    const series = (rows, palette) => rows.map((row) => ({
      label: row.label, data: row.values, backgroundColor: palette[row.code] || "#adb5bd",
    }));
    bar(document.getElementById("channel-volume-chart"), data.weeks, series(data.volume, colours),
        {scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true, ticks: {precision: 0}}}});
    bar(document.getElementById("channel-direction-chart"), data.weeks, series(data.directions, directionColours),
        {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}});
    const mix = document.getElementById("channel-mix-chart");
    bar(mix, data.branches, series(data.mix, colours), {
      indexAxis: "y", maintainAspectRatio: false,
      scales: {x: {stacked: true, min: 0, max: 100, ticks: {callback: (v) => v + "%"}}, y: {stacked: true}},
      plugins: {tooltip: {callbacks: {label: (c) => c.dataset.label + ": " + c.parsed.x.toFixed(1) + "% "
                                                    + (mix ? mix.dataset.percentLabel : "")}}},
    });
  }

  draw();
  document.body.addEventListener("htmx:afterSettle", (event) => {
    if (event.target && event.target.id === "channel-analytics") draw();
  });
})();
