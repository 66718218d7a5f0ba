/* Weekly trend charts of the reports page. Data comes from the json_script block
   "report-chart-data"; Chart.js is vendored (static/reports/vendor). No inline script (CSP). */
(function () {
  "use strict";
  var source = document.getElementById("report-chart-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var percent = function (values) {
    return values.map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; });
  };
  var flat = function (value) {
    return data.weeks.map(function () { return value; });
  };
  var common = {
    responsive: true,
    maintainAspectRatio: false,
    spanGaps: true,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom" } }
  };
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) {
      new window.Chart(canvas, config);
    }
  }
  draw("chart-sla", {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: [
        { label: "Responded within target (%)", data: percent(data.responded_within_target), borderColor: "#1d4ed8" },
        { label: "Resolved within target (%)", data: percent(data.resolved_within_target), borderColor: "#15803d" }
      ]
    },
    options: Object.assign({}, common, { scales: { y: { min: 0, max: 100 } } })
  });
  draw("chart-satisfaction", {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: [
        { label: "CSAT average", data: data.csat_average, borderColor: "#b45309", yAxisID: "score" },
        { label: "CSAT target", data: flat(data.targets.csat), borderColor: "#b45309", borderDash: [6, 4], pointRadius: 0, yAxisID: "score" },
        { label: "First-contact resolution (%)", data: percent(data.first_contact_resolution_rate), borderColor: "#7c3aed", yAxisID: "share" },
        { label: "Survey response rate (%)", data: percent(data.survey_response_rate), borderColor: "#0f766e", yAxisID: "share" }
      ]
    },
    options: Object.assign({}, common, {
      scales: {
        score: { type: "linear", position: "left", min: 1, max: 5 },
        share: { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } }
      }
    })
  });
  draw("chart-volume", {
    type: "bar",
    data: {
      labels: data.weeks,
      datasets: [
        { label: "Created", data: data.tickets, backgroundColor: "#93c5fd" },
        { label: "Resolved", data: data.resolved, backgroundColor: "#86efac" }
      ]
    },
    options: common
  });
})();
