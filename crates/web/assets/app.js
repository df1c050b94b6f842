// Switchboard web UI: small progressive enhancements. Every page works
// without this file; it only adds confirmations and conveniences.
(function () {
  "use strict";

  // Forms and buttons with data-confirm="question" ask before submitting.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      ev.preventDefault();
    }
  });

  // A "select all" checkbox (data-check-all="NAME") ticks every checkbox
  // of that name in its form; data-check-row="ROW" ticks one grid row.
  document.addEventListener("change", function (ev) {
    var box = ev.target;
    var name = box.getAttribute("data-check-all");
    if (name && box.form) {
      box.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (b) {
        b.checked = box.checked;
      });
    }
  });

  // The menu button shows and hides the side menu on narrow screens.
  var toggle = document.getElementById("menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      document.body.classList.toggle("menu-open");
    });
  }

  // "Copy" buttons next to a freshly created token.
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (el && navigator.clipboard) {
        navigator.clipboard.writeText(el.textContent.trim());
        btn.classList.add("copied");
      }
    });
  });
})();

// ---- Voice-platform pages (status, extensions, lists, media,
// registrations) ----
(function () {
  "use strict";

  // Live parts: an element with data-live="URL" shows the fragment the
  // server renders at URL. The server streams it as server-sent events
  // (URL&stream=1, an event "part" each time it changes). The stream ends
  // every few minutes and the browser reconnects by itself; when a
  // reconnection is refused (e.g. the session ended and sign-in answered),
  // the whole page is reloaded, which leads to sign-in and back. Without
  // EventSource the fragment is re-fetched every data-every milliseconds.
  function showPart(el, html) {
    el.innerHTML = html;
    el.classList.remove("stale");
    el.setAttribute("data-updated", String(Date.now()));
  }
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var url = el.getAttribute("data-live");
    var every = parseInt(el.getAttribute("data-every") || "2000", 10);
    if (window.EventSource) {
      var source = new EventSource(url + (url.indexOf("?") < 0 ? "?" : "&") + "stream=1");
      source.addEventListener("part", function (ev) {
        showPart(el, ev.data);
      });
      source.addEventListener("error", function () {
        el.classList.add("stale");
        if (source.readyState === EventSource.CLOSED) {
          window.setTimeout(function () { window.location.reload(); }, 1000);
        }
      });
      return;
    }
    var busy = false;
    function refresh() {
      if (busy || document.hidden) {
        return;
      }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (resp) {
          if (resp.headers.get("x-live-fragment") !== "1") {
            window.location.reload();
            return null;
          }
          return resp.text();
        })
        .then(function (html) {
          if (typeof html === "string") {
            showPart(el, html);
          }
        })
        .catch(function () {
          el.classList.add("stale");
        })
        .then(function () {
          busy = false;
        });
    }
    window.setInterval(refresh, every > 250 ? every : 2000);
  });

  // Media upload: an empty name field takes the chosen file's name
  // (without its extension).
  document.querySelectorAll("input[type=file][data-name-from]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-name-from"));
      var file = input.files && input.files[0];
      if (target && file && !target.value.trim()) {
        target.value = file.name.replace(/\.[^.]*$/, "");
      }
    });
    // A file above the server's limit is refused here, before it is
    // sent: the server stops reading at the limit and closes the
    // connection, which a browser may show as a network error.
    var max = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
    if (input.form && max > 0) {
      input.form.addEventListener("submit", function (ev) {
        var file = input.files && input.files[0];
        if (!file || file.size <= max) { return; }
        ev.preventDefault();
        var field = input.closest(".field");
        var msg = field && field.querySelector("p.error");
        if (field && !msg) {
          msg = document.createElement("p");
          msg.className = "error";
          msg.id = input.id + "-error";
          msg.setAttribute("data-test", "error-file");
          field.appendChild(msg);
        }
        if (msg) {
          msg.textContent = input.getAttribute("data-too-large") || "";
          field.classList.add("has-error");
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", msg.id);
        }
      });
    }
  });
})();
/* ==== Call-center pages (queues, routing rules, IVR menus) ==== */
(function () {
  "use strict";
  // Routing-rule form: show only the fields of the chosen rule type
  // (fields carry data-kind). Without JavaScript every field shows and the
  // server reads only those of the chosen type.
  document.querySelectorAll("form.cc-kind-form").forEach(function (form) {
    var select = document.getElementById(form.getAttribute("data-kind-select"));
    if (!select) { return; }
    function apply() {
      var kind = select.value;
      form.querySelectorAll("[data-kind]").forEach(function (el) {
        el.classList.toggle("hidden-kind", el.getAttribute("data-kind") !== kind);
      });
      form.querySelectorAll("fieldset.cc-group").forEach(function (fs) {
        var fields = fs.querySelectorAll(".field");
        var shown = 0;
        fields.forEach(function (f) { if (!f.classList.contains("hidden-kind")) { shown += 1; } });
        fs.classList.toggle("hidden-kind", fields.length > 0 && shown === 0);
      });
    }
    select.addEventListener("change", apply);
    apply();
  });
})();
/* ==== end of call-center pages ==== */
/* ==== Rich text (ticket bodies and replies, knowledge answers) ==== */
(function () {
  "use strict";
  // A form with data-richtext="NAME" gets an editor in place of its
  // textarea NAME: a few formatting buttons over a contenteditable box
  // whose HTML goes back into the textarea on submit. The server
  // sanitises whatever arrives; without JavaScript the textarea takes
  // plain text.
  var buttons = [["bold", "B"], ["italic", "I"], ["underline", "U"],
                 ["insertUnorderedList", "•"], ["insertOrderedList", "1."]];
  document.querySelectorAll("form[data-richtext]").forEach(function (form) {
    var area = form.querySelector("textarea[name='" + form.getAttribute("data-richtext") + "']");
    if (!area) { return; }
    var bar = document.createElement("div");
    bar.className = "richtext-bar";
    var box = document.createElement("div");
    box.className = "richtext";
    box.contentEditable = "true";
    box.setAttribute("role", "textbox");
    box.setAttribute("aria-multiline", "true");
    box.setAttribute("data-test", "richtext-" + area.id);
    box.id = area.id + "-editor";
    var label = form.querySelector("label[for='" + area.id + "']");
    if (label) { box.setAttribute("aria-label", label.textContent.replace("*", "").trim()); }
    buttons.forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "secondary";
      btn.textContent = b[1];
      btn.setAttribute("aria-label", b[0]);
      btn.addEventListener("click", function () { box.focus(); document.execCommand(b[0]); });
      bar.appendChild(btn);
    });
    // The stored value is sanitised HTML from our own server.
    box.innerHTML = area.value;
    area.hidden = true;
    area.parentNode.insertBefore(bar, area);
    area.parentNode.insertBefore(box, area);
    form.addEventListener("submit", function () {
      // Wrapped, so that the server takes it as HTML even when it starts
      // with text (its entities are then kept, not escaped again).
      area.value = box.textContent.trim() === "" && !box.querySelector("li")
        ? "" : "<div>" + box.innerHTML + "</div>";
    });
  });
})();
/* ==== Click to call (contact lists) ==== */
(function () {
  "use strict";
  // A button with data-dial="NUMBER" asks the desk to call the number:
  // the agent's phone (desk or browser phone, as logged in at /desk) rings
  // first, then the number. The answer is shown in #dial-status.
  var status = document.getElementById("dial-status");
  document.querySelectorAll("[data-dial]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var number = btn.getAttribute("data-dial").replace(/[\s\-().]/g, "");
      var body = new URLSearchParams();
      body.set("csrf", btn.getAttribute("data-csrf") || "");
      body.set("number", number);
      fetch("/desk/dial", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          if (!status) { return; }
          status.hidden = false;
          status.classList.toggle("bad", !res[0]);
          status.textContent = res[0]
            ? status.getAttribute("data-calling").replace("{number}", number)
            : status.getAttribute("data-failed") + (res[1].error || "");
        })
        .catch(function (e) {
          if (status) { status.hidden = false; status.textContent = String(e); }
        });
    });
  });
})();
