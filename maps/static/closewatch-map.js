/* closewatch map pages: how tracks, zones and events are drawn, their popups and
 * the legend. Shared by the static situation map, the live map and the replay.
 *
 * Safety rule: every string that may come from a feed (ship names, callsigns,
 * CoT remarks, zone names of notified exercises) reaches the DOM through
 * textContent only. HTML is built here only from enumerated values (side,
 * domain, kind, severity: looked up in the tables below) and numbers.
 */
(function () {
  "use strict";

  var SIDE_COLORS = { nato: "#1f5fbf", russia: "#d0231f", other: "#2e9e44", unknown: "#d4a300" };
  var SIDE_NAMES = { nato: "NATO", russia: "Russia / Belarus", other: "Other", unknown: "Unknown" };
  var ZONE_COLORS = {
    border_buffer: "#ef6c00", territorial: "#7b3fa0", exercise: "#c2185b", site: "#6d4c41", custom: "#00897b",
    corridor: "#0277bd"
  };
  var ZONE_NAMES = {
    border_buffer: "Border buffer", territorial: "Territorial waters / airspace", exercise: "Exercise area (active)",
    site: "Site", custom: "Custom zone", corridor: "Announced flight corridor"
  };
  var SEVERITY_COLORS = { info: "#1976d2", warning: "#f57c00", critical: "#b71c1c" };
  var KIND_NAMES = {
    zone_entry: "Zone entry", predicted_zone_entry: "Predicted zone entry", close_approach: "Close approach",
    predicted_close_approach: "Predicted close approach", track_integrity: "Track integrity",
    exercise_near_border: "Exercise near border", shadowing: "Shadowing", intercept: "Intercept",
    bomber_sortie: "Bomber sortie", unsafe_air_intercept_of_ship: "Unsafe air intercept of a ship",
    unsafe_manoeuvre_at_sea: "Unsafe manoeuvre at sea", gnss_interference: "GNSS interference",
    ais_gap: "AIS gap"
  };
  var DOMAIN_NAMES = { air: "Aircraft", sea: "Vessel", land: "Land unit" };
  // Who operates a track: the outline of its glyph (military heavy, state dashed, civil thin).
  var CATEGORY_STROKES = {
    military: { color: "#000000", width: 2.0, dash: null },
    state: { color: "#000000", width: 1.6, dash: "3 2" },
    civil: { color: "#10161c", width: 0.6, dash: null },
    unknown: { color: "#10161c", width: 1.0, dash: "1 1.5" }
  };
  var CATEGORY_NAMES = { military: "Military (heavy outline)", state: "State: coast guard, border guard, police (dashed)",
                         civil: "Civil (thin outline)", unknown: "Unknown (dotted)" };
  // Glyphs in a 24x24 box centred on 0,0, pointing north (rotated to the heading).
  var GLYPHS = {
    air: "M0,-11 L1.6,-6 L1.6,-2 L10,3 L10,5 L1.6,2.5 L1.2,8 L4,10 L4,11.5 L0,10.5 L-4,11.5 L-4,10 L-1.2,8 " +
         "L-1.6,2.5 L-10,5 L-10,3 L-1.6,-2 L-1.6,-6 Z",
    sea: "M0,-11 L5,-4 L5,10 L-5,10 L-5,-4 Z",
    land: "M0,-9 L9,0 L0,9 L-9,0 Z"
  };
  var NO_HEADING_GLYPH = { air: null, sea: "M0,-7 A7,7 0 1,1 -0.01,-7 Z", land: null };
  var LABEL_MIN_ZOOM = 8;

  function pick(table, key, fallback) {
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : fallback;
  }
  function finite(v) {
    return typeof v === "number" && isFinite(v);
  }
  // HH:MM:SS UTC of epoch seconds
  function utcTime(s) {
    return finite(s) ? new Date(s * 1000).toISOString().slice(11, 19) + " UTC" : "an unknown time";
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* ------------------------------------------------------------ popups */

  function popupNode(popup) {
    var root = el("div", "cw-popup");
    if (!popup) return root;
    root.appendChild(el("div", "cw-popup-title", popup.title));
    var table = el("table", "cw-popup-rows");
    (popup.rows || []).forEach(function (row) {
      var tr = table.insertRow();
      tr.appendChild(el("th", null, row[0]));
      tr.appendChild(el("td", null, row[1]));
    });
    root.appendChild(table);
    return root;
  }

  /* ------------------------------------------------------------ tracks */

  function strokeAttrs(category) {
    var st = pick(CATEGORY_STROKES, category, CATEGORY_STROKES.unknown);
    return '" stroke="' + st.color + '" stroke-width="' + st.width + '"' +
      (st.dash ? ' stroke-dasharray="' + st.dash + '"' : "") + ' stroke-linejoin="round"';
  }

  function glyphSvg(p) {
    var color = pick(SIDE_COLORS, p.side, SIDE_COLORS.unknown);
    var hasHeading = finite(p.rotation_deg);
    var shape = (!hasHeading && pick(NO_HEADING_GLYPH, p.domain, null)) || pick(GLYPHS, p.domain, GLYPHS.land);
    var rot = hasHeading ? p.rotation_deg : 0;
    return '<svg class="cw-glyph" viewBox="-12 -12 24 24" width="26" height="26" ' +
      'style="transform: rotate(' + rot + 'deg)"><path d="' + shape + '" fill="' + color +
      strokeAttrs(p.category) + "/></svg>";
  }

  function trackIcon(p) {
    var cls = "cw-track cw-side-" + (pick(SIDE_COLORS, p.side, null) ? p.side : "unknown") +
      " cw-domain-" + (pick(GLYPHS, p.domain, null) ? p.domain : "land") +
      " cw-category-" + (pick(CATEGORY_STROKES, p.category, null) ? p.category : "unknown") +
      (p.stationary ? " cw-stationary" : "") + (p.stale ? " cw-stale" : "");
    return L.divIcon({ className: cls, html: glyphSvg(p), iconSize: [26, 26], iconAnchor: [13, 13],
                       popupAnchor: [0, -12], tooltipAnchor: [12, 0] });
  }

  // Data attributes (set as DOM properties, never parsed as HTML) let tests and
  // style sheets find a track's marker.
  function decorate(layer) {
    var node = layer.getElement && layer.getElement();
    var p = layer.feature && layer.feature.properties;
    if (!node || !p) return;
    node.dataset.id = p.id;
    node.dataset.layer = p.layer;
    if (p.side) node.dataset.side = p.side;
    if (p.domain) node.dataset.domain = p.domain;
    if (p.category) node.dataset.category = p.category;
    if (p.layer === "track") node.dataset.stationary = p.stationary ? "true" : "false";
    if (p.kind) node.dataset.kind = p.kind;
    node.dataset.rotation = finite(p.rotation_deg) ? String(p.rotation_deg) : "";
  }

  function labelNode(layer) {
    return el("span", null, layer.feature.properties.label);
  }

  function trackMarker(feature, latlng) {
    var p = feature.properties;
    var m = L.marker(latlng, { icon: trackIcon(p), keyboard: false, riseOnHover: true });
    m.feature = feature;
    m.on("add", function () { decorate(m); });
    return m;
  }

  /* ------------------------------------------------------------ events */

  function eventIcon(p) {
    var color = pick(SEVERITY_COLORS, p.severity, SEVERITY_COLORS.warning);
    var kind = pick(KIND_NAMES, p.kind, null) ? p.kind : "other";
    var closed = p.state === "closed";
    var html = '<svg viewBox="0 0 24 24" width="24" height="24"><path d="M12,2 L23,21 L1,21 Z" fill="' +
      (closed ? "#9e9e9e" : color) + '" stroke="#10161c" stroke-width="1.2" stroke-linejoin="round"/>' +
      '<rect x="11" y="8" width="2" height="7" fill="#fff"/><rect x="11" y="16.5" width="2" height="2" fill="#fff"/>' +
      (p.suspect ? '<circle cx="20" cy="5" r="4" fill="#6a1b9a" stroke="#fff" stroke-width="1"/>' : "") +
      "</svg>";
    return L.divIcon({ className: "cw-event cw-kind-" + kind + (closed ? " cw-closed" : ""), html: html,
                       // above its position, so the track it concerns stays visible and clickable
                       iconSize: [24, 24], iconAnchor: [12, 36], popupAnchor: [0, -34] });
  }

  function eventMarker(feature, latlng) {
    var m = L.marker(latlng, { icon: eventIcon(feature.properties), zIndexOffset: 1000, keyboard: false });
    m.feature = feature;
    m.on("add", function () { decorate(m); });
    return m;
  }

  /* ------------------------------------------------------------ GeoJSON hooks */

  // classes the filters act on (enumerated values only)
  function filterClasses(p) {
    var cls = "";
    if (pick(SIDE_COLORS, p.side, null)) cls += " cw-side-" + p.side;
    if (pick(GLYPHS, p.domain, null)) cls += " cw-domain-" + p.domain;
    if (pick(CATEGORY_STROKES, p.category, null)) cls += " cw-category-" + p.category;
    if (pick(KIND_NAMES, p.kind, null)) cls += " cw-kind-" + p.kind;
    return cls;
  }

  function pointToLayer(feature, latlng) {
    var p = feature.properties || {};
    if (p.layer === "track") return trackMarker(feature, latlng);
    if (p.layer === "event") return eventMarker(feature, latlng);
    if (p.layer === "cpa") {
      return L.circleMarker(latlng, { radius: 7, color: pick(SIDE_COLORS, p.side, SIDE_COLORS.unknown),
                                      weight: 2, dashArray: "2 3", fillOpacity: 0.15, className: "cw-cpa" + filterClasses({ kind: p.kind }) });
    }
    return L.circleMarker(latlng, { radius: 4 });
  }

  function style(feature) {
    var p = feature.properties || {};
    switch (p.layer) {
      case "zone": {
        var c = pick(ZONE_COLORS, p.kind, "#555");
        if (p.notification === "unnotified" || p.notification === "snap_exercise") {
          // activity nobody notified in time: a heavy red edge an operator cannot miss
          return { color: "#d50000", weight: 3, opacity: 1, fillColor: c, fillOpacity: 0.25,
                   dashArray: "2 6", className: "cw-zone cw-unnotified" };
        }
        return { color: c, weight: 1.5, opacity: 0.9, fillColor: c, fillOpacity: 0.2,
                 dashArray: p.kind === "exercise" ? "6 4" : null,
                 className: "cw-zone" + (p.notification ? " cw-notified" : "") };
      }
      case "outline":
        return { color: "#8a96a3", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1, interactive: false,
                 className: "cw-outline" };
      case "trail":
        return { color: pick(SIDE_COLORS, p.side, SIDE_COLORS.unknown), weight: 2, opacity: 0.55,
                 interactive: false, className: "cw-trail" + filterClasses(p) };
      case "event_area": {
        // an area of GNSS interference: its cells, shaded by the share of aircraft degraded
        var share = typeof p.share === "number" ? Math.max(0, Math.min(1, p.share)) : 0.5;
        var closed = p.state === "closed";
        return { color: closed ? "#9e9e9e" : pick(SEVERITY_COLORS, p.severity, "#f57c00"), weight: 1, opacity: 0.8,
                 fillColor: closed ? "#9e9e9e" : "#6a1b9a", fillOpacity: 0.12 + 0.4 * share,
                 className: "cw-event-area" + filterClasses({ kind: p.kind }) };
      }
      case "event_line":
        return { color: p.state === "closed" ? "#9e9e9e" : pick(SEVERITY_COLORS, p.severity, "#f57c00"),
                 weight: 3, dashArray: "6 6", className: "cw-event-line" + filterClasses({ kind: p.kind }) };
      default:
        return {};
    }
  }

  var selectHandlers = [];

  function onEachFeature(feature, layer) {
    var p = feature.properties || {};
    layer.feature = feature;
    if (p.popup) {
      layer.bindPopup(function (l) { return popupNode(l.feature.properties.popup); },
                      { maxWidth: 380, className: "cw-popup-wrap" });
    }
    if (p.layer === "track" && p.label) {
      layer.bindTooltip(labelNode, { permanent: true, direction: "right", className: "cw-label" + filterClasses(p),
                                     offset: [10, 0], opacity: 0.9 });
      layer.on("tooltipopen", function () { decorateLabel(layer); scheduleDeclutter(layer._map); });
      // hover shows the label of a track whatever the zoom or the declutter says
      layer.on("mouseover", function () { setHover(layer, true); });
      layer.on("mouseout", function () { setHover(layer, false); });
    }
    layer.on("click", function () {
      selectHandlers.forEach(function (fn) { fn(layer.feature); });
    });
  }

  /* ------------------------------------------------------------ labels: declutter and hover */

  // Which label wins where labels collide: military, state, unknown, civil; moving before
  // stationary; then by id, so the same picture gives the same labels.
  var CATEGORY_RANK = { military: 0, state: 1, unknown: 2, civil: 3 };

  function labelRank(p) {
    return pick(CATEGORY_RANK, p.category, 2) * 2 + (p.stationary ? 1 : 0);
  }

  function labelElement(layer) {
    var tip = layer.getTooltip && layer.getTooltip();
    return tip && tip.options.permanent ? tip.getElement() : null;
  }

  function decorateLabel(layer) {
    var node = labelElement(layer);
    var p = layer.feature && layer.feature.properties;
    if (node && p) node.dataset.id = p.id;
  }

  function setHover(layer, on) {
    var node = labelElement(layer);
    if (node) node.classList.toggle("cw-label-hover", on);
  }

  function boxOf(node) {
    var r = node.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? [r.left, r.top, r.right, r.bottom] : null;  // null: not shown
  }

  // Hide every label whose box overlaps a label already placed (greedy, in rank order) or the
  // icon of a track ranked as high as its own: a civil ship's label never covers a ship, a
  // military track's label may cover civil ones. One pass reads every box, one pass writes the
  // classes: a single layout per run.
  function declutter(map) {
    var container = map.getContainer();
    if (!container.classList.contains("cw-labels")) return;
    var items = [];
    var icons = [];
    map.eachLayer(function (layer) {
      var p = layer.feature && layer.feature.properties;
      if (!p || p.layer !== "track") return;
      var icon = layer.getElement && layer.getElement();
      var ibox = icon && icon.classList.contains("cw-track") ? boxOf(icon) : null;
      if (ibox) icons.push({ box: ibox, rank: labelRank(p) });
      var node = labelElement(layer);
      if (node) items.push({ node: node, rank: labelRank(p), id: String(p.id) });
    });
    items.forEach(function (it) { it.box = boxOf(it.node); });
    items.sort(function (a, b) { return a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0); });
    function overlaps(b, q) { return b[0] < q[2] && q[0] < b[2] && b[1] < q[3] && q[1] < b[3]; }
    var placed = [];
    items.forEach(function (it) {
      var hide = false;
      if (it.box) {
        var b = it.box;
        var i;
        for (i = 0; i < placed.length && !hide; i++) hide = overlaps(b, placed[i]);
        // a label starts right of its own icon, so its own icon is never in its way
        for (i = 0; i < icons.length && !hide; i++) hide = icons[i].rank <= it.rank && overlaps(b, icons[i].box);
        if (!hide) placed.push(b);
      }
      it.hide = hide;
    });
    items.forEach(function (it) { it.node.classList.toggle("cw-label-hidden", it.hide); });
  }

  // At most one declutter per animation frame, however many layers moved.
  function scheduleDeclutter(map) {
    if (!map || map._cwDeclutterPending) return;
    map._cwDeclutterPending = true;
    window.requestAnimationFrame(function () {
      map._cwDeclutterPending = false;
      declutter(map);
    });
  }

  /* ------------------------------------------------------------ map furniture */

  function legendControl(options) {
    var opts = options || {};
    var ctl = L.control({ position: opts.position || "bottomleft" });
    ctl.onAdd = function () {
      var box = el("div", "cw-legend leaflet-control" + (opts.collapsed ? " cw-collapsed" : ""));
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var head = el("div", "cw-legend-title", "Legend");
      box.appendChild(head);
      var body = el("div", "cw-legend-body");
      head.addEventListener("click", function () { box.classList.toggle("cw-collapsed"); });
      function section(title, entries) {
        body.appendChild(el("div", "cw-legend-section", title));
        entries.forEach(function (e) {
          var row = el("div", "cw-legend-row");
          var sw = el("span", "cw-swatch");
          sw.innerHTML = e.svg; // built from constants in this file only
          row.appendChild(sw);
          row.appendChild(el("span", null, e.text));
          body.appendChild(row);
        });
      }
      section("Side", Object.keys(SIDE_COLORS).map(function (s) {
        return { svg: '<svg viewBox="-12 -12 24 24" width="16" height="16"><path d="' + GLYPHS.land +
                 '" fill="' + SIDE_COLORS[s] + '" stroke="#10161c"/></svg>', text: SIDE_NAMES[s] };
      }));
      section("Track (rotated to heading)", Object.keys(GLYPHS).map(function (d) {
        return { svg: '<svg viewBox="-12 -12 24 24" width="16" height="16"><path d="' + GLYPHS[d] +
                 '" fill="#cfd8dc" stroke="#10161c"/></svg>', text: DOMAIN_NAMES[d] };
      }).concat([
        { svg: '<svg viewBox="-12 -12 24 24" width="16" height="16" opacity="0.4"><path d="' + GLYPHS.sea +
               '" fill="#cfd8dc" stroke="#10161c"/></svg>', text: "Moored, anchored or on the ground (dimmed)" }
      ]));
      section("Operator (outline)", Object.keys(CATEGORY_STROKES).map(function (c) {
        return { svg: '<svg viewBox="-12 -12 24 24" width="16" height="16"><path d="' + GLYPHS.land +
                 '" fill="#cfd8dc' + strokeAttrs(c) + "/></svg>", text: CATEGORY_NAMES[c] };
      }));
      var zoneKinds = opts.zoneKinds || Object.keys(ZONE_COLORS);
      section("Zone", zoneKinds.map(function (k) {
        return { svg: '<svg width="16" height="12"><rect x="1" y="1" width="14" height="10" fill="' +
                 pick(ZONE_COLORS, k, "#555") + '" fill-opacity="0.25" stroke="' + pick(ZONE_COLORS, k, "#555") +
                 '"/></svg>', text: pick(ZONE_NAMES, k, k) };
      }).concat(zoneKinds.indexOf("exercise") < 0 ? [] : [
        { svg: '<svg width="16" height="12"><rect x="1.5" y="1.5" width="13" height="9" fill="' + ZONE_COLORS.exercise +
               '" fill-opacity="0.25" stroke="#d50000" stroke-width="2" stroke-dasharray="2 3"/></svg>',
          text: "Exercise not notified in time (unnotified, snap)" }
      ]));
      section("Event (severity)", Object.keys(SEVERITY_COLORS).map(function (s) {
        return { svg: '<svg viewBox="0 0 24 24" width="16" height="16"><path d="M12,2 L23,21 L1,21 Z" fill="' +
                 SEVERITY_COLORS[s] + '"/></svg>', text: s.charAt(0).toUpperCase() + s.slice(1) };
      }).concat([
        { svg: '<svg width="16" height="12"><line x1="0" y1="6" x2="16" y2="6" stroke="#f57c00" stroke-width="3" ' +
               'stroke-dasharray="4 3"/></svg>', text: "Close approach: the two tracks" },
        { svg: '<svg width="16" height="16"><circle cx="8" cy="8" r="6" fill="none" stroke="#555" stroke-width="2" ' +
               'stroke-dasharray="2 2"/></svg>', text: "Predicted position at CPA" }
      ]));
      box.appendChild(body);
      return box;
    };
    return ctl;
  }

  function titleControl(text, subtitle) {
    var ctl = L.control({ position: "topleft" });
    ctl.onAdd = function () {
      var box = el("div", "cw-title leaflet-control");
      box.appendChild(el("div", "cw-title-main", text));
      if (subtitle) box.appendChild(el("div", "cw-title-sub", subtitle));
      return box;
    };
    return ctl;
  }

  // Labels only at closer zooms: a class on the map container switches them.
  function setupMap(map, options) {
    var opts = options || {};
    var container = map.getContainer();
    // fitPaddingBottom: pixels at the bottom kept clear of the data (the replay's time slider)
    if (opts.bounds) map.fitBounds(opts.bounds, { animate: false, maxZoom: opts.fitMaxZoom || 10,
                                                  paddingBottomRight: [0, opts.fitPaddingBottom || 0] });
    container.classList.add("cw-map");
    if (!opts.tiles) container.classList.add("cw-no-tiles");
    function zoomClass() {
      container.classList.toggle("cw-labels", map.getZoom() >= (opts.labelMinZoom || LABEL_MIN_ZOOM));
    }
    map.on("zoomend", zoomClass);
    zoomClass();
    // labels are decluttered again whenever they can have moved: zoom, pan, resize, layers
    // coming and going (replay slider, live updates, filters)
    var redo = function () { scheduleDeclutter(map); };
    map.on("zoomend moveend resize layeradd layerremove", redo);
    container.addEventListener("change", redo);
    scheduleDeclutter(map);
    if (opts.title) titleControl(opts.title, opts.subtitle).addTo(map);
    if (opts.legend !== false) {
      legendControl({ zoneKinds: opts.zoneKinds, position: opts.legendPosition, collapsed: opts.legendCollapsed })
        .addTo(map);
    }
    if (map.attributionControl) map.attributionControl.setPrefix(false);
    window.closewatchMap = map;
  }


  /* ------------------------------------------------------------ live map */

  var updateHandlers = [];

  // leaflet-realtime hook: move, re-rotate and re-describe a marker in place
  // (its popup and label follow the new feature); other layers are replaced.
  function updateFeature(feature, oldLayer) {
    if (!oldLayer) return undefined;
    var p = feature.properties || {};
    if ((p.layer === "track" || p.layer === "event") && oldLayer.setIcon) {
      // an open popup follows its marker without panning the operator's view
      var popup = oldLayer.getPopup && oldLayer.getPopup();
      var autoPan = popup ? popup.options.autoPan : false;
      if (popup) popup.options.autoPan = false;
      oldLayer.setLatLng(L.GeoJSON.coordsToLatLng(feature.geometry.coordinates));
      oldLayer.feature = feature;
      var icon = p.layer === "track" ? trackIcon(p) : eventIcon(p);
      oldLayer.setIcon(icon);
      // leaflet-realtime resets options to defaultOptions after an update
      oldLayer.defaultOptions = L.extend({}, oldLayer.defaultOptions || oldLayer.options, { icon: icon });
      decorate(oldLayer);
      if (oldLayer.getTooltip && oldLayer.getTooltip()) {
        oldLayer.setTooltipContent(labelNode(oldLayer));
        scheduleDeclutter(oldLayer._map);
      }
      if (oldLayer.isPopupOpen && oldLayer.isPopupOpen()) oldLayer.getPopup().update();
      if (popup) popup.options.autoPan = autoPan;
      updateHandlers.forEach(function (fn) { fn(feature); });
      return oldLayer;
    }
    return undefined;
  }

  var FILTERS = [
    { group: "side", title: "Side", values: Object.keys(SIDE_COLORS), names: SIDE_NAMES },
    { group: "domain", title: "Domain", values: Object.keys(DOMAIN_NAMES), names: DOMAIN_NAMES },
    { group: "category", title: "Operator", values: Object.keys(CATEGORY_STROKES),
      names: { military: "Military", state: "State", civil: "Civil", unknown: "Unknown" } },
    { group: "kind", title: "Event kind", values: Object.keys(KIND_NAMES), names: KIND_NAMES }
  ];

  // Filters hide by class: a container class cw-hide-<group>-<value> hides every
  // marker, trail, label and event element carrying cw-<group>-<value>.
  function filterStyleSheet() {
    var rules = [];
    FILTERS.forEach(function (f) {
      f.values.forEach(function (v) {
        rules.push(".cw-hide-" + f.group + "-" + v + " .cw-" + f.group + "-" + v + " { display: none !important; }");
      });
    });
    var style = document.createElement("style");
    style.textContent = rules.join("\n");
    document.head.appendChild(style);
  }

  function liveControl(map, opts) {
    var container = map.getContainer();
    var ctl = L.control({ position: "topright" });
    var refs = {};
    ctl.onAdd = function () {
      var box = el("div", "cw-panel leaflet-control");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      var counts = el("div", "cw-counts");
      var t = el("span"); refs.tracks = el("b", "cw-count-tracks", "–"); t.appendChild(refs.tracks);
      t.appendChild(document.createTextNode(" tracks"));
      var e = el("span"); refs.events = el("b", "cw-count-events", "–"); e.appendChild(refs.events);
      e.appendChild(document.createTextNode(" open events"));
      counts.appendChild(t); counts.appendChild(e);
      box.appendChild(counts);
      refs.dataTime = el("div", "cw-data-time", "waiting for data…");
      box.appendChild(refs.dataTime);
      var filters = el("form", "cw-filters");
      FILTERS.forEach(function (f) {
        var fs = el("fieldset");
        fs.appendChild(el("legend", null, f.title));
        f.values.forEach(function (v) {
          var label = el("label");
          var cb = el("input");
          cb.type = "checkbox"; cb.checked = true; cb.name = f.group; cb.value = v;
          cb.dataset.filter = f.group + "-" + v;
          cb.addEventListener("change", function () {
            container.classList.toggle("cw-hide-" + f.group + "-" + v, !cb.checked);
          });
          label.appendChild(cb);
          label.appendChild(document.createTextNode(" " + f.names[v]));
          fs.appendChild(label);
        });
        filters.appendChild(fs);
      });
      box.appendChild(filters);
      box.appendChild(el("h3", null, "Selected"));
      refs.selected = el("div", "cw-selected");
      box.appendChild(refs.selected);
      return box;
    };
    ctl.addTo(map);

    var banner = el("div", "cw-stale-banner");
    banner.setAttribute("role", "alert");
    container.appendChild(banner);

    var selectedId = null;
    function showSelected(feature) {
      var p = feature.properties || {};
      selectedId = p.id;
      refs.selected.textContent = "";
      refs.selected.appendChild(popupNode(p.popup));
    }
    selectHandlers.push(showSelected);
    updateHandlers.push(function (feature) {
      if (feature.properties && feature.properties.id === selectedId) showSelected(feature);
    });
    // The first view fits the traffic (the page opens on the zone catalogue): once, at the
    // first update that brings tracks.
    var fitted = false;
    var opening = map.getCenter().toString() + "/" + map.getZoom();
    (opts.realtimes || []).forEach(function (rt) {
      rt.on("update", function (ev) {
        if (fitted) return;
        // the operator has moved the map already: the view is theirs
        if (map.getCenter().toString() + "/" + map.getZoom() !== opening) { fitted = true; return; }
        var pts = [];
        Object.keys(ev.features || {}).forEach(function (id) {
          var f = ev.features[id];
          if (f && f.properties && f.properties.layer === "track" && f.geometry && f.geometry.coordinates) {
            pts.push([f.geometry.coordinates[1], f.geometry.coordinates[0]]);
          }
        });
        if (pts.length) {
          fitted = true;
          map.fitBounds(L.latLngBounds(pts).pad(0.2), { animate: false, maxZoom: 11 });
        }
      });
    });
    (opts.realtimes || []).forEach(function (rt) {
      rt.on("update", function (ev) {
        if (selectedId && ev.exit && Object.prototype.hasOwnProperty.call(ev.exit, selectedId)) {
          selectedId = null;
          refs.selected.textContent = "";
          refs.selected.appendChild(el("div", "cw-gone", "No longer on the map (stale or closed)."));
        }
      });
    });

    // One line per problem, worst first; names and errors come from feeds: textContent only.
    function setBanner(lines) {
      container.classList.toggle("cw-feed-stale", lines.length > 0);
      banner.textContent = "";
      lines.forEach(function (line) {
        var div = el("div", "cw-banner-line cw-banner-" + line.level, line.text);
        div.dataset.kind = line.kind;
        banner.appendChild(div);
      });
    }
    function healthLines(s) {
      var lines = [];
      var c = s.connection;
      var down = !!(c && !c.connected);
      if (down) {
        lines.push({ kind: "connection", level: "alert", text: "No connection to " + c.name + " since " +
          utcTime(c.since_s) + " (retrying)" + (c.error ? ": " + c.error : "") +
          ". The picture is not being updated." });
      }
      (s.feeds || []).forEach(function (f) {
        if (f.state === "running") return;
        var text = "Feed " + f.feed + (f.state === "failed" ? " failed" : " restarting") + " since " +
          utcTime(f.since_s) + (finite(f.last_data_s) ? ", last data " + utcTime(f.last_data_s) : ", no data yet") +
          (f.error ? ": " + f.error : "");
        lines.push({ kind: "feed", level: f.state === "failed" ? "alert" : "warn", text: text });
      });
      if (s.feed_stale && !down) {
        var age = finite(s.feed_age_s) ? Math.round(s.feed_age_s) + " s" : "never";
        lines.push({ kind: "stale", level: "warn",
          text: "Data feed stale: last update " + age + " ago. The picture may be out of date." });
      }
      return lines;
    }
    function poll() {
      fetch(opts.statusUrl, { cache: "no-store", credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (s) {
          refs.tracks.textContent = String(s.tracks);
          refs.events.textContent = String(s.open_events);
          refs.dataTime.textContent = "Data time " + (s.data_time || "n/a");
          setBanner(healthLines(s));
        })
        .catch(function () {
          setBanner([{ kind: "server", level: "alert",
            text: "Map server unreachable: the picture is not being updated." }]);
        });
    }
    poll();
    window.setInterval(poll, opts.intervalMs || 2000);
  }

  function setupLive(map, options) {
    filterStyleSheet();
    liveControl(map, options || {});
  }

  window.closewatch = {
    SIDE_COLORS: SIDE_COLORS,
    ZONE_COLORS: ZONE_COLORS,
    SEVERITY_COLORS: SEVERITY_COLORS,
    KIND_NAMES: KIND_NAMES,
    SIDE_NAMES: SIDE_NAMES,
    DOMAIN_NAMES: DOMAIN_NAMES,
    popupNode: popupNode,
    trackIcon: trackIcon,
    eventIcon: eventIcon,
    glyphSvg: glyphSvg,
    decorate: decorate,
    pointToLayer: pointToLayer,
    style: style,
    onEachFeature: onEachFeature,
    onSelect: function (fn) { selectHandlers.push(fn); },
    updateFeature: updateFeature,
    setupLive: setupLive,
    legendControl: legendControl,
    setupMap: setupMap,
    declutter: declutter,
    el: el,
    pick: pick,
    finite: finite
  };
})();
