// The indicators' charts (Chart.js, served by the app). The table below them holds the same
// figures, for screen readers and for anyone without JavaScript.
(function () {
  if (typeof Chart === "undefined") return;
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  Chart.defaults.font.family = "system-ui, sans-serif";
  new Chart(document.getElementById("chart-groups"), {
    type: "bar",
    data: { labels: data.groups.labels, datasets: [
      { label: "Reçues", data: data.groups.received, backgroundColor: "#0b4f96" },
      { label: "Orientées", data: data.groups.matched, backgroundColor: "#14632b" } ] },
    options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  if (data.funnel && document.getElementById("chart-funnel")) {
    new Chart(document.getElementById("chart-funnel"), {
      type: "bar",
      data: { labels: data.funnel.labels, datasets: [
        { label: "Toutes les demandes", data: data.funnel.values, backgroundColor: "#14632b" } ].concat(
        (data.funnel.groups || []).map(function (g, i) {
          return { label: g.label, data: g.values, backgroundColor: ["#7d0016", "#5c3b00", "#0a3d73"][i % 3] };
        })) },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
  new Chart(document.getElementById("chart-sources"), {
    type: "bar",
    data: { labels: data.sources.labels, datasets: [
      { label: "Demandes", data: data.sources.values, backgroundColor: "#7a4a00" } ] },
    options: { animation: false, indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  if (data.slots && document.getElementById("chart-slots")) {
    new Chart(document.getElementById("chart-slots"), {
      type: "bar",
      data: { labels: data.slots.labels, datasets: [
        { label: "Créneaux", data: data.slots.values, backgroundColor: "#14213d" } ] },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
  if (data.calls && document.getElementById("chart-calls")) {
    new Chart(document.getElementById("chart-calls"), {
      type: "bar",
      data: { labels: data.calls.labels, datasets: [
        { label: "Appels", data: data.calls.values, backgroundColor: "#0a3d73" } ] },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
})();
