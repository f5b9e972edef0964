// The request's map: the patient and the suggested doctors, numbered as in the list.
// Tiles come from the configured server; without them (offline, refused, or none set)
// the markers are still drawn, and the list above works without any script at all.
(function () {
  var element = document.getElementById("map");
  if (!element || typeof L === "undefined") return;
  var data = JSON.parse(element.getAttribute("data-map"));
  var points = (data.patient ? [data.patient] : []).concat(data.doctors);
  if (!points.length) { element.textContent = "Pas de position connue pour ce patient."; return; }
  L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
  var map = L.map(element, { scrollWheelZoom: false });
  if (data.tiles) {
    L.tileLayer(data.tiles, { maxZoom: 18, attribution: data.attribution }).addTo(map);
  }
  var bounds = [];
  if (data.patient) {
    L.circleMarker([data.patient.lat, data.patient.lon], { radius: 10, color: "#a1001c", fillOpacity: 0.8 })
      .addTo(map).bindTooltip(data.patient.label, { permanent: true, direction: "top" });
    bounds.push([data.patient.lat, data.patient.lon]);
  }
  data.doctors.forEach(function (d) {
    // The number of the list's row, drawn in the marker (styled in workspace.css: no inline style).
    var icon = L.divIcon({
      className: "map-number", html: "<span>" + Number(d.number) + "</span>",
      iconSize: [28, 28], iconAnchor: [14, 14], popupAnchor: [0, -14]
    });
    L.marker([d.lat, d.lon], { icon: icon, title: d.label, alt: d.label, keyboard: true })
      .addTo(map).bindPopup(document.createTextNode(d.label));
    bounds.push([d.lat, d.lon]);
  });
  if (bounds.length === 1) map.setView(bounds[0], 13); else map.fitBounds(bounds, { padding: [20, 20] });
})();
