// Leadwerk pages: keyboard shortcuts, auto-submitting selects and a notice when an htmx request fails.
(function () {
  "use strict";

  // "g" then a letter follows the nav link with data-shortcut="<letter>"; "/" focuses the search field.
  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if (event.key === "/") {
      var search = document.querySelector("[data-shortcut-focus='/']");
      if (search) { event.preventDefault(); search.focus(); }
      return;
    }
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector("a[data-shortcut='" + event.key + "']");
      if (link) { event.preventDefault(); link.click(); }
      return;
    }
    if (event.key === "g") {
      pendingG = true;
      window.setTimeout(function () { pendingG = false; }, 1200);
    }
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) select.form.submit();
  });

  // Errors htmx does not swap (403, 404, 5xx, network): say so instead of doing nothing.
  function toast(text) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    window.clearTimeout(box._timer);
    box._timer = window.setTimeout(function () { box.hidden = true; }, 6000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("toast");
    if (!box) return;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    toast(status === 403 ? box.dataset.forbidden : status === 404 ? box.dataset.missing : box.dataset.failed);
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("toast");
    if (box) toast(box.dataset.failed);
  });
})();
