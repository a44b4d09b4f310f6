// Leadwerk pages: keyboard shortcuts ("?" lists them), auto-submitting selects, a notice when an htmx request
// fails.
(function () {
  "use strict";

  // A page's own one-key actions: the element marked data-key="<letter>" (a button is clicked, a form gets
  // the focus in its first field, a <details> opens and focuses its first field).
  function runKey(key) {
    var element = document.querySelector("[data-key='" + key + "']");
    if (!element) return false;
    if (element.tagName === "SUMMARY") element = element.parentElement;
    if (element.tagName === "DETAILS") element.open = true;
    if (element.tagName === "DETAILS" || element.tagName === "FORM") {
      var field = element.querySelector("input:not([type=hidden]), select, textarea");
      element.scrollIntoView({block: "nearest"});
      if (field) field.focus();
      return true;
    }
    if (element.disabled) return false;
    element.click();
    return true;
  }

  // The header's menu button on small screens: show or hide the page links.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-menu-toggle]");
    if (!toggle) return;
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!menu) return;
    var open = menu.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  function showHelp() {
    var dialog = document.getElementById("shortcut-help");
    if (dialog && !dialog.open) dialog.showModal();
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcut-help]")) { showHelp(); return; }
    var dialog = document.getElementById("shortcut-help");
    if (dialog && (event.target.closest("[data-shortcut-close]") || event.target === dialog)) dialog.close();
  });

  // "g" then a letter follows the nav link with data-shortcut="<letter>"; "/" focuses the search field;
  // "?" shows the list of shortcuts; other letters run the page's own actions (see runKey).
  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (event.key === "Escape") target.blur();  // leave the field, and the shortcuts work again
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "?") {
      event.preventDefault();
      showHelp();
      return;
    }
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
      return;
    }
    if (/^[a-z]$/.test(event.key) && runKey(event.key)) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) select.form.submit();
    // A "select all" box: data-check-all="<name>" ticks every checkbox of that name in its form.
    if (select.matches && select.matches("input[data-check-all]") && select.form) {
      var boxes = select.form.querySelectorAll("input[type=checkbox][name='" + select.dataset.checkAll + "']");
      Array.prototype.forEach.call(boxes, function (box) { box.checked = select.checked; });
    }
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
