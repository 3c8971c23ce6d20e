// Draws every picture of the catalog's pages: an element with `data-graph="ID"` gets the graph held in the JSON
// block <script type="application/json" id="ID"> ({nodes: [{id, label, kind, href}], edges: [{source, target,
// label}], direction: "LR" | "TB"}), laid out in layers by dagre. A big graph whose nodes all carry a `rank` (their
// layer, known to the server: a lineage node's depth) is laid out by rank at once, as dagre would take seconds to
// search for a layout of hundreds of nodes; so is one asking for `layout: "columns"` (the interaction map's columns
// of sources, products and consumers). Such a graph is handed to cytoscape placed and fitted, so that cytoscape's
// work before the first frame is styling and drawing alone. Clicking a node with an href goes to its page.
// The drawn graphs are kept in window.valuemeshGraphs by element id, so tests read what was drawn, not pixels.
(function () {
  "use strict";
  if (window.cytoscape && window.cytoscapeDagre) {
    window.cytoscape.use(window.cytoscapeDagre);
  }
  window.valuemeshGraphs = window.valuemeshGraphs || {};

  // A node's size follows its label, wrapped at 140 px, worked out once per node when the graph is built:
  // cytoscape's own `"width": "label"` is deprecated and leaves nodes placed by a preset layout without a size, so
  // they are not drawn at all.
  var CHAR_PX = 7, LINE_PX = 14, WRAP_PX = 140;
  function labelSize(label) {
    var words = String(label || "").split(/\s+/), lines = 1, used = 0, widest = 0;
    words.forEach(function (word) {
      var w = word.length * CHAR_PX;
      if (used > 0 && used + CHAR_PX + w > WRAP_PX) { lines += 1; used = w; } else { used += (used > 0 ? CHAR_PX : 0) + w; }
      widest = Math.max(widest, Math.min(used, WRAP_PX));
    });
    return { w: Math.max(widest, CHAR_PX) + 6, h: lines * LINE_PX };
  }

  var STYLE = [
    { selector: "node", style: {
      // a label smaller than 7 px on screen is not drawn: unreadable, and hundreds of them took a third of a big
      // picture's first frame (bench/bench_lineage_picture.py); zooming in shows them
      "label": "data(label)", "font-size": 11, "min-zoomed-font-size": 7, "text-wrap": "wrap", "text-max-width": 140,
      "text-valign": "center", "text-halign": "center", "color": "#1d2a33",
      "shape": "round-rectangle", "width": "data(w)", "height": "data(h)", "padding": 8,
      "background-color": "#dcebf5", "border-width": 1, "border-color": "#4f7ea3" } },
    { selector: "node[kind = 'source']", style: {
      "shape": "barrel", "background-color": "#f3ead2", "border-color": "#9a7b2f" } },
    { selector: "node[kind = 'focus']", style: {
      "background-color": "#1f5f8b", "color": "#ffffff", "border-color": "#0e3550", "border-width": 2 } },
    { selector: "node[kind = 'consumer']", style: {
      "shape": "ellipse", "background-color": "#e4f1e0", "border-color": "#4c8a3f" } },
    { selector: "node[kind = 'goal']", style: { "background-color": "#efe3f4", "border-color": "#7a4f8f" } },
    { selector: "node[kind = 'vision']", style: {
      "background-color": "#5b2f73", "color": "#ffffff", "border-color": "#3a1b4b" } },
    { selector: "node[kind = 'use-case']", style: {
      "shape": "hexagon", "background-color": "#fdf1dc", "border-color": "#b07a1b" } },
    { selector: "node[kind = 'more']", style: {
      "background-color": "#ffffff", "border-style": "dashed", "color": "#555555" } },
    { selector: "node[href]", style: { "cursor": "pointer" } },
    { selector: "edge", style: {
      "width": 1.5, "line-color": "#8aa1b1", "target-arrow-color": "#8aa1b1", "target-arrow-shape": "triangle",
      "curve-style": "bezier" } },
    // Only edges that say something carry a label's style: styling an empty label on each of a big lineage's
    // hundreds of edges took a third of cytoscape's set-up (bench/bench_lineage_picture.py).
    { selector: "edge[label]", style: {
      "label": "data(label)", "font-size": 9, "color": "#555555",
      "text-background-color": "#ffffff", "text-background-opacity": 1 } }
  ];

  var DAGRE_LIMIT = 60; // nodes; beyond it a ranked graph is laid out by rank
  var MIN_ZOOM = 0.05, MAX_ZOOM = 3;
  // A big picture's edges are haystack lines, centre to centre and without arrowheads (its columns say the way data
  // flows: upstream to the left): for bezier and straight edges cytoscape works out each pair of nodes' edges and
  // their end points before the first frame (bench/bench_lineage_picture.py: with 500 nodes, straight edges took
  // about 0.6 s of the main thread's CPU to the first frame, haystack lines 0.45-0.55 s, bezier more than straight)
  var BIG_STYLE = [{ selector: "edge", style: { "curve-style": "haystack", "haystack-radius": 0 } }];

  // Columns (rows for "TB") by rank; within one, nodes ordered by where their neighbours in the previous column
  // are (one barycentre sweep each way), so that edges cross little.
  function rankedPositions(data) {
    var byRank = {}, position = {}, neighbours = {};
    data.nodes.forEach(function (node) {
      (byRank[node.rank] = byRank[node.rank] || []).push(node.id);
      neighbours[node.id] = [];
    });
    data.edges.forEach(function (edge) {
      if (neighbours[edge.source] && neighbours[edge.target]) {
        neighbours[edge.source].push(edge.target);
        neighbours[edge.target].push(edge.source);
      }
    });
    var ranks = Object.keys(byRank).map(Number).sort(function (a, b) { return a - b; });
    function place(column) {
      byRank[column].forEach(function (id, index) { position[id] = index; });
    }
    function sweep(order) {
      order.forEach(function (column, step) {
        if (step > 0) {
          var weight = {};
          byRank[column].forEach(function (id) {
            var seen = neighbours[id].filter(function (n) { return position[n] !== undefined; });
            weight[id] = seen.length
              ? seen.reduce(function (sum, n) { return sum + position[n]; }, 0) / seen.length
              : position[id] || 0;
          });
          byRank[column].sort(function (a, b) { return weight[a] - weight[b]; });
        }
        place(column);
      });
    }
    var middle = ranks.indexOf(0) >= 0 ? ranks.indexOf(0) : 0;
    sweep(ranks.slice(middle));
    sweep(ranks.slice(0, middle + 1).reverse());
    var across = data.direction === "TB" ? 90 : 210, along = data.direction === "TB" ? 190 : 56;
    var result = {};
    ranks.forEach(function (rank, column) {
      var ids = byRank[rank], offset = (ids.length - 1) / 2;
      ids.forEach(function (id, index) {
        var a = column * across, b = (index - offset) * along;
        result[id] = data.direction === "TB" ? { x: b, y: a } : { x: a, y: b };
      });
    });
    return result;
  }

  function ranked(data) {
    return (data.layout === "columns" || data.nodes.length > DAGRE_LIMIT) &&
      data.nodes.every(function (n) { return typeof n.rank === "number"; });
  }

  function layoutFor(data) {
    if (window.cytoscapeDagre) {
      return { name: "dagre", rankDir: data.direction || "LR", nodeSep: 18, rankSep: 60, animate: false };
    }
    return { name: "breadthfirst", directed: true };
  }

  // The zoom and pan that fit nodes placed beforehand into the container, worked out from the positions and sizes
  // graph.js gave them: cytoscape's own `fit` computes every element's style and bounds first, most of its set-up
  // time for a graph of hundreds of nodes (bench/bench_lineage_picture.py).
  var FIT_PADDING = 20, NODE_MARGIN = 10; // px around the picture; a node's padding and border around its label
  function fitted(nodes, positions, container) {
    var width = container.clientWidth, height = container.clientHeight;
    if (!width || !height || !nodes.length) { return null; }
    var x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    nodes.forEach(function (node) {
      var at = positions[node.id], w = node.w / 2 + NODE_MARGIN, h = node.h / 2 + NODE_MARGIN;
      x1 = Math.min(x1, at.x - w); x2 = Math.max(x2, at.x + w);
      y1 = Math.min(y1, at.y - h); y2 = Math.max(y2, at.y + h);
    });
    var zoom = Math.min((width - 2 * FIT_PADDING) / (x2 - x1), (height - 2 * FIT_PADDING) / (y2 - y1));
    zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom));
    return { zoom: zoom, pan: { x: (width - zoom * (x1 + x2)) / 2, y: (height - zoom * (y1 + y2)) / 2 } };
  }

  // performance.mark()s of each picture's steps (bench/bench_lineage_picture.py reports them)
  function mark(name, step) {
    if (window.performance && performance.mark) { performance.mark(name + ":" + step); }
  }

  function draw(container) {
    var source = document.getElementById(container.getAttribute("data-graph"));
    if (!source || !window.cytoscape) { return; }
    var name = container.id || source.id;
    mark(name, "start");
    var data = JSON.parse(source.textContent);
    var positions = ranked(data) ? rankedPositions(data) : null;
    mark(name, "positioned");
    var elements = data.nodes.map(function (node) {
      var size = labelSize(node.label);
      node.w = size.w;
      node.h = size.h;
      return positions ? { group: "nodes", data: node, position: positions[node.id] } : { group: "nodes", data: node };
    });
    data.edges.forEach(function (edge, index) {
      var fields = { id: "e" + index, source: edge.source, target: edge.target };
      if (edge.label) { fields.label = edge.label; }
      elements.push({ group: "edges", data: fields });
    });
    var options = {
      container: container, elements: elements, style: STYLE, wheelSensitivity: 0.2, minZoom: MIN_ZOOM, maxZoom: MAX_ZOOM
    };
    if (!positions) {
      options.layout = layoutFor(data);
    } else {
      var view = fitted(data.nodes, positions, container);
      options.layout = view ? { name: "preset", fit: false } : { name: "preset", fit: true, padding: FIT_PADDING };
      if (view) { options.zoom = view.zoom; options.pan = view.pan; }
      if (data.nodes.length > DAGRE_LIMIT) { options.style = STYLE.concat(BIG_STYLE); }
    }
    mark(name, "elements");
    var cy = window.cytoscape(options);
    cy.on("tap", "node", function (event) {
      var href = event.target.data("href");
      if (href) { window.location.assign(href); }
    });
    mark(name, "set-up");
    container.setAttribute("data-drawn", String(cy.nodes().length));
    window.valuemeshGraphs[name] = cy;
  }

  // One picture per frame, in page order: the first (a product page's lineage) is painted before the next is set up
  function drawAll(root) {
    var containers = Array.prototype.slice.call((root || document).querySelectorAll("[data-graph]"));
    (function next() {
      var container = containers.shift();
      if (!container) { return; }
      draw(container);
      if (containers.length) { window.requestAnimationFrame(function () { window.setTimeout(next, 0); }); }
    })();
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  // A picture swapped in by htmx (a deeper lineage, a filtered map) is drawn when it arrives.
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
