/*
 * Leadwerk site tracking. Embed on every page of your site:
 *   <script src="https://LEADWERK/static/leads/track.js" data-form-key="FORM_KEY"
 *           data-endpoint="https://LEADWERK" async></script>
 *
 * Tracking waits for consent (TTDSG § 25, GDPR): until the site's consent manager says yes, the script
 * reads and writes nothing in the browser and sends nothing. Consent is given either
 *   - on the script tag, for sites that decide on the server: data-consent="granted", or
 *   - by the consent manager, at any time: leadwerk.consent(true); withdrawn with leadwerk.consent(false),
 *     which stops tracking and forgets the visitor id in the browser.
 * A consent manager that may answer before this (async) script has loaded queues its answer:
 *   window.leadwerk = window.leadwerk || {q: [], consent: function (v) { this.q.push(["consent", v]); }};
 *
 * With consent it keeps an anonymous visitor id in localStorage, posts each page view to /api/v1/track/,
 * fills any <input name="visitor_id"> on the page and hands the id to embedded Leadwerk forms
 * (<iframe data-leadwerk-form>), so the visits join the lead's timeline once the visitor fills a form.
 * Without data-form-key it only fills visitor_id fields from an id already stored.
 */
(function () {
  "use strict";
  var STORAGE_KEY = "leadwerk_visitor_id";
  var PARAM = "visitor_id=";
  var script = document.currentScript;
  var formKey = script && script.getAttribute("data-form-key");
  var endpoint = ((script && script.getAttribute("data-endpoint")) || "").replace(/\/+$/, "");
  var granted = ((script && script.getAttribute("data-consent")) || "").toLowerCase() === "granted";
  var tracked = false; // this page's view was sent (once per page, however often consent is given)
  var ready = false;   // the document is parsed: inputs and frames can be filled

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

  function frames() {
    return document.querySelectorAll("iframe[data-leadwerk-form]");
  }

  function fill(id) {
    var inputs = document.querySelectorAll("input[name='visitor_id']");
    for (var i = 0; i < inputs.length; i++) if (!inputs[i].value) inputs[i].value = id;
    var forms = frames();
    for (var k = 0; k < forms.length; k++) {
      var src = forms[k].getAttribute("src") || "";
      if (src && src.indexOf(PARAM) === -1) {
        forms[k].setAttribute("src", src + (src.indexOf("?") === -1 ? "?" : "&") + PARAM + encodeURIComponent(id));
      }
    }
  }

  function unfill(id) {
    var inputs = document.querySelectorAll("input[name='visitor_id']");
    for (var i = 0; i < inputs.length; i++) if (inputs[i].value === id) inputs[i].value = "";
    var forms = frames();
    for (var k = 0; k < forms.length; k++) {
      var src = forms[k].getAttribute("src") || "";
      var stripped = src.replace(/([?&])visitor_id=[^&#]*&?/, "$1").replace(/[?&](#|$)/, "$1");
      if (stripped !== src) forms[k].setAttribute("src", stripped);
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
    if (!granted || !ready) return;
    if (formKey) {
      var id = ensureId();
      fill(id);
      if (!tracked) {
        tracked = true;
        track(id);
      }
    } else {
      var known = storedId();
      if (known) fill(known);
    }
  }

  function withdraw() {
    var id = storedId();
    try { window.localStorage.removeItem(STORAGE_KEY); } catch (e) { /* nothing was kept */ }
    if (id && ready) unfill(id);
  }

  /* The consent manager's answer: true starts tracking (now, on this page), false stops it and forgets
     the visitor id in this browser. */
  function consent(value) {
    granted = value === true;
    if (granted) run(); else withdraw();
    return granted;
  }

  var api = window.leadwerk && typeof window.leadwerk === "object" ? window.leadwerk : {};
  var queued = api.q && api.q.length ? api.q.slice() : [];
  api.q = [];
  api.consent = consent;
  api.hasConsent = function () { return granted; };
  window.leadwerk = api;
  for (var i = 0; i < queued.length; i++) {
    if (queued[i] && queued[i][0] === "consent") granted = queued[i][1] === true;
  }
  if (queued.length && !granted) withdraw();

  function start() {
    ready = true;
    run();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
