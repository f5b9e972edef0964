// The territory's map: the CPTS's communes (their boundaries, with the counts of patients
// waiting, volunteer places and unscheduled-care slots: never a person) and its GPs.
// Tiles come from the configured server; without them (offline, refused, or none set) the
// boundaries and the markers are still drawn, and the tables below work without any script.
(function () {
  var element = document.getElementById("territory-map");
  if (!element || typeof L === "undefined") return;
  var data = JSON.parse(element.getAttribute("data-map"));
  var map = L.map(element, { scrollWheelZoom: false, zoomSnap: 0.25 });
  if (data.tiles) {
    L.tileLayer(data.tiles, { maxZoom: 18, attribution: data.attribution }).addTo(map);
  }
  var all = L.featureGroup().addTo(map);
  var selected = null;
  data.communes.forEach(function (c) {
    if (!c.polygons.length) return;
    var label = c.name + " : " + c.waiting + " patient(s) en attente, " + c.places +
      " place(s) de volontaires, " + c.snp + " créneau(x) SNP dans les 7 jours";
    var shape = L.polygon(c.polygons, {
      className: "commune" + (c.recruit ? " recruit" : "") + (c.selected ? " selected" : ""),
      weight: c.selected ? 3 : 1
    }).addTo(all);
    shape.bindTooltip(document.createTextNode(label), { sticky: true });
    if (c.selected) selected = shape;
  });
  data.doctors.forEach(function (d) {
    L.circleMarker([d.lat, d.lon], { radius: 6, className: "gp " + d.kind, weight: 2, fillOpacity: 0.9 })
      .addTo(all).bindTooltip(document.createTextNode(d.label));
  });
  var bounds = (selected || all).getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
  else map.setView([46.6, 2.4], 5);
})();
