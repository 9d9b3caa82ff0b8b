// Small page behaviours the Content-Security-Policy allows only from a file: print buttons and card labels.
(function () {
  "use strict";
  function ready() {
    // Tables shown as cards on a phone: each cell is labelled with its column's heading.
    document.querySelectorAll("table.table-cards").forEach(function (table) {
      var headings = Array.prototype.map.call(table.querySelectorAll("thead tr:last-child th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr, tfoot tr").forEach(function (row) {
        var column = 0;
        var footer = row.parentElement.tagName === "TFOOT";
        Array.prototype.forEach.call(row.children, function (cell) {
          // A footer's first cell is its own label ("Total"); a spanning cell has no one heading.
          var own = footer && column === 0;
          if (!own && !cell.hasAttribute("data-label") && headings[column] && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", headings[column]);
          }
          column += cell.colSpan || 1;
        });
      });
    });
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
