/* Ledgerdoc web UI, documents page: a file whose thumbnail is still being made gets it when ready. */
(function () {
  "use strict";

  function watch(row) {
    var id = row.getAttribute("data-id");
    var tries = 0;
    function poll() {
      tries += 1;
      fetch("/ui/documents/item/" + id + "/status", {
        credentials: "same-origin", headers: { "Accept": "application/json" },
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (status) {
        if (status && status.thumbnail) {
          var cell = row.querySelector("td.thumb");
          var img = document.createElement("img");
          img.src = status.thumbnail;
          img.alt = "";
          img.width = 48;
          img.height = 48;
          cell.textContent = "";
          cell.appendChild(img);
          row.removeAttribute("data-thumb-waiting");
          return;
        }
        if (status && status.thumbnails !== "waiting" && status.thumbnails !== undefined && tries > 2) {
          row.removeAttribute("data-thumb-waiting");
          return;
        }
        if (tries < 60) setTimeout(poll, Math.min(500 * tries, 3000));
      }).catch(function () {
        if (tries < 60) setTimeout(poll, 3000);
      });
    }
    setTimeout(poll, 500);
  }

  document.querySelectorAll("tr[data-thumb-waiting]").forEach(watch);
  document.addEventListener("ledgerdoc:row-added", function (event) {
    var row = event.detail.row;
    if (row && row.hasAttribute("data-thumb-waiting")) watch(row);
  });
})();
