// The store finder (/stores): "near me" and the map. The list is server-rendered and works without this file.
// - "Stores near me" asks the browser for its position only when clicked, then loads /stores?lat=&lon=.
// - The map (Leaflet, vendored) shows the listed stores over an offline base layer (France and its neighbours,
//   /static/vendor/leaflet/france.geojson) unless the page names a tile server (SIMKEEP_MAP_TILES_URL).
(function () {
  "use strict";

  function nearMe() {
    var button = document.getElementById("near-me");
    var status = document.getElementById("near-me-status");
    if (!button || !("geolocation" in navigator)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = button.dataset.waiting;
      navigator.geolocation.getCurrentPosition(function (position) {
        var params = new URLSearchParams();
        params.set("lat", position.coords.latitude.toFixed(5));
        params.set("lon", position.coords.longitude.toFixed(5));
        window.location.assign("/stores?" + params.toString());
      }, function () {
        button.disabled = false;
        status.textContent = button.dataset.denied;
      }, {enableHighAccuracy: false, timeout: 15000, maximumAge: 300000});
    });
  }

  function popup(item) {
    var box = document.createElement("div");
    var name = document.createElement("strong");
    name.textContent = item.dataset.name;
    box.appendChild(name);
    var hours = item.querySelector(".hours");
    if (hours) {
      var line = document.createElement("div");
      line.textContent = hours.textContent.replace(/\s+/g, " ").trim();
      box.appendChild(line);
    }
    return box;
  }

  function map() {
    var element = document.getElementById("store-map");
    if (!element || !window.L) return;
    var L = window.L;
    var items = Array.prototype.slice.call(document.querySelectorAll(".stores li[data-lat]"));
    var view = L.map(element, {scrollWheelZoom: false, attributionControl: true});
    var points = [];
    var markers = L.featureGroup();
    items.forEach(function (item) {
      var at = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
      points.push(at);
      L.marker(at, {title: item.dataset.name, alt: item.dataset.name, keyboard: true})
        .bindPopup(popup(item)).addTo(markers);
    });
    if (element.dataset.centerLat) {
      var center = [parseFloat(element.dataset.centerLat), parseFloat(element.dataset.centerLon)];
      points.push(center);
      L.circleMarker(center, {radius: 7, color: "#0b5cad", fillOpacity: 0.8}).bindTooltip(element.dataset.you)
        .addTo(markers);
    }
    if (points.length) {
      view.fitBounds(L.latLngBounds(points).pad(0.2), {maxZoom: 14});
    } else {
      view.setView([46.6, 2.4], 5);
    }
    var ready = function () { element.dataset.ready = "true"; };
    if (element.dataset.tilesUrl) {
      L.tileLayer(element.dataset.tilesUrl, {attribution: element.dataset.tilesAttribution, maxZoom: 19})
        .addTo(view);
      markers.addTo(view);
      ready();
      return;
    }
    // Offline: country outlines drawn as vector shapes, France highlighted.
    fetch(element.dataset.baseLayer, {credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (outlines) {
        L.geoJSON(outlines, {
          interactive: false,
          style: function (feature) {
            var france = feature.properties && feature.properties.france;
            return {color: "#6b7c8f", weight: france ? 1.5 : 0.8, fillColor: france ? "#fbfaf5" : "#e8e6df",
                    fillOpacity: 1};
          }
        }).addTo(view);
        element.classList.add("offline-base");
      })
      .catch(function () { /* the markers still show */ })
      .then(function () { markers.addTo(view); ready(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    nearMe();
    map();
  });
})();
