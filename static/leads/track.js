/*
 * Leadwerk site tracking. Embed on every page of your site:
 *   <script src="https://LEADWERK/static/leads/track.js" data-form-key="FORM_KEY"
 *           data-endpoint="https://LEADWERK" async></script>
 * Keeps an anonymous visitor id in localStorage, posts each page view to /api/v1/track/, fills any
 * <input name="visitor_id"> on the page and hands the id to embedded Leadwerk forms
 * (<iframe data-leadwerk-form>), so the visits join the lead's timeline once the visitor fills a form.
 * Without data-form-key it only fills visitor_id fields from an id already stored.
 */
(function () {
  "use strict";
  var STORAGE_KEY = "leadwerk_visitor_id";
  var script = document.currentScript;
  var formKey = script && script.getAttribute("data-form-key");
  var endpoint = ((script && script.getAttribute("data-endpoint")) || "").replace(/\/+$/, "");

  function newId() {
    var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    var bytes = new Uint8Array(22);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    var id = "";
    for (var j = 0; j < bytes.length; j++) id += alphabet.charAt(bytes[j] % 64);
    return id;
  }

  function storedId() {
    try {
      var id = window.localStorage.getItem(STORAGE_KEY);
      return id && /^[A-Za-z0-9_-]{8,64}$/.test(id) ? id : null;
    } catch (e) {
      return null; // storage blocked: stay anonymous
    }
  }

  function ensureId() {
    var id = storedId();
    if (id) return id;
    id = newId();
    try { window.localStorage.setItem(STORAGE_KEY, id); } catch (e) { /* not kept: one-page visitor */ }
    return id;
  }

  function fill(id) {
    var inputs = document.querySelectorAll("input[name='visitor_id']");
    for (var i = 0; i < inputs.length; i++) if (!inputs[i].value) inputs[i].value = id;
    var frames = document.querySelectorAll("iframe[data-leadwerk-form]");
    for (var k = 0; k < frames.length; k++) {
      var src = frames[k].getAttribute("src") || "";
      if (src && src.indexOf("visitor_id=") === -1) {
        frames[k].setAttribute("src", src + (src.indexOf("?") === -1 ? "?" : "&") + "visitor_id=" + encodeURIComponent(id));
      }
    }
  }

  function track(id) {
    if (!window.fetch) return;
    try {
      window.fetch(endpoint + "/api/v1/track/", {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        keepalive: true,
        headers: { "Content-Type": "application/json", "X-Form-Key": formKey },
        body: JSON.stringify({
          visitor_id: id,
          url: window.location.href,
          title: (document.title || "").slice(0, 300),
          referrer: document.referrer || ""
        })
      }).catch(function () { /* tracking never breaks the page */ });
    } catch (e) { /* ignore */ }
  }

  function run() {
    if (formKey) {
      var id = ensureId();
      fill(id);
      track(id);
    } else {
      var known = storedId();
      if (known) fill(known);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
})();
