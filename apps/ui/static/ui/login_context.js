/* Ledgerdoc web UI, sign-in step 2: a changed client, role or organization narrows the lists after
   it, so the choices below it are cleared and the server re-renders them ("Update choices"). */
(function () {
  "use strict";

  var form = document.getElementById("context-form");
  if (!form) return;
  var order = ["client", "role", "org", "warehouse"];
  form.querySelectorAll("[data-refresh]").forEach(function (select) {
    select.addEventListener("change", function () {
      order.slice(order.indexOf(select.name) + 1).forEach(function (name) { form.elements[name].value = ""; });
      document.getElementById("update-choices").click();
    });
  });
})();
