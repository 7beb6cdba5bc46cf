/* The dashboard's charts (Chart.js) and hot-spot map (Leaflet), drawn from the JSON islands the
 * pages carry (#trend-data, #map-data): the Content-Security-Policy allows no inline script.
 * Each drawn canvas or map gets data-rendered="1". The print button of the monthly report prints. */
(function () {
  "use strict";

  var charts = [];

  function island(id) {
    var element = document.getElementById(id);
    if (!element) {
      return null;
    }
    try {
      return JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
  }

  function rendered(element) {
    element.setAttribute("data-rendered", "1");
  }

  var INK = "#1d2430";
  var ACCENT = "#0b5cad";
  var GOOD = "#1f7a3a";
  var WARM = "#c75b12";

  function baseOptions(yTitle, max) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { color: INK, boxWidth: 14 } } },
      scales: {
        x: { ticks: { color: INK, autoSkip: true, maxRotation: 0 } },
        y: {
          beginAtZero: true,
          max: max,
          title: { display: true, text: yTitle, color: INK },
          ticks: { color: INK, precision: 0 }
        }
      }
    };
  }

  function drawTrend(data) {
    var canvas = document.getElementById("trend-chart");
    if (!canvas || !window.Chart) {
      return;
    }
    charts.push(new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.names.received, data: data.received, backgroundColor: ACCENT },
          { label: data.names.resolved, data: data.resolved, backgroundColor: GOOD }
        ]
      },
      options: baseOptions(data.names.tickets)
    }));
    rendered(canvas);
  }

  function drawSla(data) {
    var canvas = document.getElementById("sla-chart");
    if (!canvas || !window.Chart) {
      return;
    }
    var counts = { 0: data.response_sla_counts, 1: data.resolution_sla_counts };
    var options = baseOptions(data.names.share, 100);
    options.plugins.tooltip = {
      callbacks: {
        label: function (item) {
          var pair = counts[item.datasetIndex][item.dataIndex];
          return item.dataset.label + ": " + item.formattedValue + "% (" + pair[0] + "/" + pair[1] + ")";
        }
      }
    };
    charts.push(new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.names.response_sla, data: data.response_sla, borderColor: ACCENT,
            backgroundColor: ACCENT, spanGaps: true, pointRadius: 3
          },
          {
            label: data.names.resolution_sla, data: data.resolution_sla, borderColor: WARM,
            backgroundColor: WARM, spanGaps: true, pointRadius: 3
          }
        ]
      },
      options: options
    }));
    rendered(canvas);
  }

  function popup(spot) {
    var box = document.createElement("div");
    var count = document.createElement("strong");
    count.textContent = spot.title;
    var detail = document.createElement("div");
    detail.textContent = spot.detail;
    box.appendChild(count);
    box.appendChild(detail);
    return box;
  }

  function drawMap(data) {
    var element = document.getElementById("map");
    if (!element || !window.L) {
      return;
    }
    var map = window.L.map(element, { scrollWheelZoom: false, attributionControl: true });
    if (data.tiles) {
      /* the tiles may not load (offline): the markers do not depend on them */
      window.L.tileLayer(data.tiles.url, {
        attribution: data.tiles.attribution,
        maxZoom: 19,
        referrerPolicy: "strict-origin"  /* the page itself sends no Referer; tile servers want one */
      }).addTo(map);
    }
    var spots = data.spots || [];
    var biggest = spots.reduce(function (most, spot) { return Math.max(most, spot.count); }, 1);
    var bounds = [];
    spots.forEach(function (spot) {
      var radius = 6 + 18 * Math.sqrt(spot.count / biggest);
      window.L.circleMarker([spot.lat, spot.lon], {
        radius: radius, color: "#7a1d22", weight: 1, fillColor: "#d64550", fillOpacity: 0.6
      }).bindPopup(popup(spot)).addTo(map);
      bounds.push([spot.lat, spot.lon]);
    });
    if (bounds.length > 1) {
      /* room for the circles, clear of the zoom buttons (top left) and the attribution */
      map.fitBounds(bounds, { paddingTopLeft: [64, 92], paddingBottomRight: [40, 40], maxZoom: 16 });
    } else if (bounds.length === 1) {
      map.setView(bounds[0], 15);
    } else {
      map.setView([-2.5, 118], 4);  /* Indonesia, when nothing has a location */
    }
    rendered(element);
  }

  function wirePrint() {
    var button = document.getElementById("print");
    if (button) {
      button.addEventListener("click", function () { window.print(); });
    }
    /* charts take the paper's width, and back */
    window.addEventListener("beforeprint", function () { charts.forEach(function (c) { c.resize(); }); });
    window.addEventListener("afterprint", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  function start() {
    var trend = island("trend-data");
    if (trend) {
      drawTrend(trend);
      drawSla(trend);
    }
    var places = island("map-data");
    if (places) {
      drawMap(places);
    }
    wirePrint();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
