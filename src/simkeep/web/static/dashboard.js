// The dashboard's plots (admin/dashboard.html): ECharts (vendored, /static/vendor/echarts) draws each chart from the
// numbers in a data attribute of the page (data-charts: JSON, never run), so no inline script is needed (the CSP allows scripts from self only). The tables under each
// plot hold the same numbers for people and screen readers; a plot is an image to them (role="img" on its box).
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.dataset.charts);
  var lang = document.documentElement.lang || "en";
  var count = new Intl.NumberFormat(lang);
  var share = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  var dayFormat = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", timeZone: "UTC" });
  var plots = [];

  function formatter(plot) {
    if (plot.unit === "percent") return function (v) { return v == null ? "—" : share.format(v / 100); };
    if (plot.unit === "money") {
      var money = new Intl.NumberFormat(lang, { style: "currency", currency: plot.currency });
      return function (v) { return v == null ? "—" : money.format(v); };
    }
    return function (v) { return v == null ? "—" : count.format(v); };
  }

  function axisLabels(plot) {
    // Days arrive as ISO dates; shown short in the reader's language.
    return plot.x.map(function (x) {
      return /^\d{4}-\d{2}-\d{2}$/.test(x) ? dayFormat.format(new Date(x + "T00:00:00Z")) : x;
    });
  }

  function option(plot) {
    var format = formatter(plot);
    return {
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: format },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: axisLabels(plot) },
      yAxis: { type: "value", axisLabel: { formatter: format } },
      series: plot.series.map(function (s) {
        return { name: s.name, type: plot.kind, data: s.data, stack: plot.stack ? "total" : undefined,
                 connectNulls: true };
      })
    };
  }

  document.querySelectorAll("[data-chart]").forEach(function (box) {
    (data[box.dataset.chart] || []).forEach(function (plot) {
      var el = document.createElement("div");
      el.className = "plot";
      box.appendChild(el);
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option(plot));
      plots.push(chart);
    });
  });
  window.addEventListener("resize", function () { plots.forEach(function (c) { c.resize(); }); });
})();
