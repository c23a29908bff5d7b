// landscape report: sorting and filtering the run table, drawing a run's plots when its section opens.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function plot(container, figure) {
    var div = document.createElement("div");
    div.className = "plot";
    container.appendChild(div);
    Plotly.newPlot(div, figure.data, figure.layout, CONFIG);
  }

  function image(src, caption) {
    var fig = document.createElement("figure");
    var img = document.createElement("img");
    img.className = "design";
    img.src = "data:image/png;base64," + src;
    img.alt = caption;
    var cap = document.createElement("figcaption");
    cap.textContent = caption;
    fig.appendChild(img);
    fig.appendChild(cap);
    return fig;
  }

  function slider(snapshots) {
    var fig = image(snapshots[snapshots.length - 1].png, "");
    var img = fig.querySelector("img"), cap = fig.querySelector("figcaption");
    var input = document.createElement("input");
    input.type = "range";
    input.min = 0;
    input.max = snapshots.length - 1;
    input.value = snapshots.length - 1;
    input.setAttribute("aria-label", "snapshot");
    function show() {
      var s = snapshots[+input.value];
      img.src = "data:image/png;base64," + s.png;
      cap.textContent = "snapshot " + (+input.value + 1) + " of " + snapshots.length + ": step " + s.step +
        ", loss " + (s.loss === null ? "not finite" : s.loss) + " (drag the slider)";
    }
    input.addEventListener("input", show);
    fig.insertBefore(input, cap);
    show();
    return fig;
  }

  function renderRun(details) {
    if (details.dataset.drawn) return;
    details.dataset.drawn = "1";
    var data = JSON.parse(details.querySelector("script.run-data").textContent);
    var curves = details.querySelector(".curves");
    data.curves.forEach(function (f) { plot(curves, f); });
    var designs = details.querySelector(".designs");
    if (data.snapshots.length) designs.appendChild(slider(data.snapshots));
    if (data.final) designs.appendChild(image(data.final, "final design"));
    if (data.best) designs.appendChild(image(data.best, "best design"));
    if (!data.snapshots.length && !data.final && !data.best && data.curves.length) {
      var none = document.createElement("p");
      none.className = "explain";
      none.textContent = "No design recorded (no snapshots, and the run has not written its final state).";
      designs.appendChild(none);
    }
    var probes = details.querySelector(".probes");
    data.probes.forEach(function (p) {
      var box = document.createElement("div");
      box.className = "probe";
      var h = document.createElement("h3");
      h.textContent = "probe " + p.name + " (" + p.recorded + " recorded step" + (p.recorded === 1 ? "" : "s") + ")";
      box.appendChild(h);
      var grid = document.createElement("div");
      grid.className = "probe-figures";
      box.appendChild(grid);
      probes.appendChild(box);
      p.figures.forEach(function (f) { plot(grid, f); });
      if (p.not_drawn.length || !p.figures.length) {
        var note = document.createElement("p");
        note.className = "explain";
        note.textContent = (p.figures.length ? "Also recorded, not drawn: " + p.not_drawn.join(", ") + "."
          : "Nothing to draw yet" + (p.not_drawn.length ? " (recorded: " + p.not_drawn.join(", ") + ")." : "."));
        box.appendChild(note);
      }
    });
  }

  // -- the run table -------------------------------------------------------------------------------
  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (type === "number") {
      var x = parseFloat(raw);
      return isNaN(x) ? null : x;
    }
    return raw.toLowerCase();
  }

  function sortBy(table, th) {
    var index = th.cellIndex, type = th.dataset.type;
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === y) return 0;
      if (x === null) return 1;          // missing values last, both ways
      if (y === null) return -1;
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function filterTable(table) {
    var text = document.getElementById("filter").value.toLowerCase();
    var status = document.getElementById("status-filter").value;
    var shown = 0, rows = table.tBodies[0].rows;
    Array.prototype.forEach.call(rows, function (row) {
      var ok = (!status || row.dataset.status === status) && (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.style.display = ok ? "" : "none";
      if (ok) shown += 1;
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " runs shown";
  }

  function openHash() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      renderRun(target);
      target.scrollIntoView();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("script.figure").forEach(function (s) {
      var div = s.previousElementSibling;
      var figure = JSON.parse(s.textContent);
      Plotly.newPlot(div, figure.data, figure.layout, CONFIG);
    });
    document.querySelectorAll("details.run").forEach(function (d) {
      if (d.open) renderRun(d);
      d.addEventListener("toggle", function () { if (d.open) renderRun(d); });
    });
    var table = document.getElementById("run-table");
    if (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
        th.addEventListener("click", function () { sortBy(table, th); });
      });
      document.getElementById("filter").addEventListener("input", function () { filterTable(table); });
      document.getElementById("status-filter").addEventListener("change", function () { filterTable(table); });
      filterTable(table);
    }
    document.querySelectorAll("a.run-link").forEach(function (a) {   // a second click on the same link
      a.addEventListener("click", function () { if (a.hash === location.hash) openHash(); });
    });
    window.addEventListener("hashchange", openHash);
    openHash();
  });
})();
