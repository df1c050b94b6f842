// The agent desk (/desk): the voice toolbar's buttons, and the push
// channel (/desk/ws) that keeps the page true: the agent's status and
// state, the offer ringing them, the call they are on, the floor's
// counters. Nothing is polled. A dropped channel is reopened with a
// growing delay, and its first message (a snapshot) replaces what the page
// showed, so a page that was offline shows the true state again. The
// screen pop and the figures of the day are read from the server when
// those messages say so.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) {
    return;
  }
  var csrf = root.getAttribute("data-csrf");
  var i18n = JSON.parse(root.getAttribute("data-i18n") || "{}");
  var $ = function (id) { return document.getElementById(id); };
  var socket = null;
  var retry = 500;
  var callStart = null;
  var timer = null;

  function t(key, fallback) {
    return i18n[key] || fallback || key;
  }

  function show(id, on) {
    var el = $(id);
    if (el) {
      el.hidden = !on;
    }
  }

  function error(id, msg) {
    var el = $(id);
    el.textContent = msg || "";
    el.hidden = !msg;
  }

  function post(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields || {}).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, "content-type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          throw new Error(j.error || ("HTTP " + r.status));
        }
        return j;
      });
    });
  }

  // Tells the browser phone (phone.js) who is signed in at the desk.
  function announce(login) {
    root.dispatchEvent(new CustomEvent("desk-login", {
      detail: { loggedIn: !!login, extension: login ? login.extension : "" }
    }));
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    if (callStart === null) {
      return;
    }
    var s = Math.max(0, Math.floor((Date.now() - callStart) / 1000));
    $("call-timer").textContent = pad(Math.floor(s / 60)) + ":" + pad(s % 60);
  }

  function showAgent(agent) {
    if (!agent) {
      $("agent-status").textContent = t("no_agent");
      $("agent-state").textContent = "–";
      return;
    }
    $("agent-status").textContent = t("status_" + agent.status, agent.status || "–");
    $("agent-status").setAttribute("data-status", agent.status || "");
    $("agent-state").textContent = t("state_" + agent.state, agent.state || "–");
    $("agent-state").setAttribute("data-state", agent.state || "");
  }

  function showOffer(offer) {
    var el = $("desk-offer");
    if (!offer) {
      el.hidden = true;
      el.textContent = "";
      return;
    }
    var waited = Math.round((offer.waited_ms || 0) / 1000);
    el.textContent = t("offer_from") + " " + (offer.caller || "?") + " · " + offer.queue +
      " · " + t("waited") + " " + waited + "s";
    el.setAttribute("data-caller", offer.caller || "");
    el.hidden = false;
  }

  function showCall(call, since) {
    if (!call) {
      show("desk-call", false);
      callStart = null;
      if (timer) {
        clearInterval(timer);
        timer = null;
      }
      return;
    }
    var me = $("desk-ext").textContent;
    var other = call.caller === me ? (call.b_party || call.callee) : call.caller;
    $("call-party").textContent = t("on_call_with") + " " + other;
    $("call-party").setAttribute("data-party", other);
    $("call-party").setAttribute("data-call", call.id);
    show("desk-call", true);
    callStart = since || Date.now();
    tick();
    if (!timer) {
      timer = setInterval(tick, 1000);
    }
  }

  // ---- Screen pop (manual 4.3) and my figures today ----
  // The pop shows the caller's history (/desk/pop) when an offer arrives
  // and again when the call is answered; "reopen" shows it again for the
  // current or last number. The figures (/desk/today) are read when the
  // channel connects and when the server says records about this agent
  // were written (a "figures" message): never on a timer.
  var popNumber = "";
  var popCall = null;
  var poppedCall = null;
  var popSeq = 0;
  var todayBusy = false;
  var todayAgain = false;

  function hms(secs) {
    var s = Math.max(0, Math.round(secs || 0));
    return Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
  }

  function getJson(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { accept: "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          throw new Error(j.error || ("HTTP " + r.status));
        }
        return j;
      });
    });
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    tr.appendChild(td);
    return td;
  }

  function showPop(p) {
    var s = p.summary || {};
    $("pop-number").textContent = p.number;
    $("desk-pop").setAttribute("data-number", p.number);
    $("pop-calls").textContent = s.calls;
    $("pop-inbound").textContent = s.inbound;
    $("pop-outbound").textContent = s.outbound;
    $("pop-talk").textContent = hms(s.talk_secs);
    $("pop-avg-talk").textContent = hms(s.avg_talk_secs);
    $("pop-ring").textContent = hms(s.ring_secs);
    $("pop-last-answered").textContent = s.last_answered || t("pop_never");
    var body = $("pop-rows");
    body.textContent = "";
    (p.calls || []).forEach(function (c) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-test", "pop-row");
      tr.setAttribute("data-id", c.id);
      cell(tr, c.start);
      cell(tr, t("dir_" + c.direction, c.direction));
      cell(tr, c.other);
      cell(tr, c.handled_by + (c.queue ? " (" + c.queue + ")" : ""));
      cell(tr, hms(c.talk_secs));
      cell(tr, c.hangup_cause);
      cell(tr, c.recorded ? t("yes") : t("no"));
      body.appendChild(tr);
    });
    if (!p.calls || !p.calls.length) {
      var tr = document.createElement("tr");
      var td = cell(tr, t("pop_none"));
      td.colSpan = 7;
      td.className = "muted";
      td.id = "pop-empty";
      td.setAttribute("data-test", "pop-empty");
      body.appendChild(tr);
    }
    // What the CRM knows of the number (within the agent's data scope).
    var contacts = p.contacts || [];
    var customers = p.customers || [];
    var known = contacts.length > 0 || customers.length > 0;
    show("pop-contact", !known);
    show("pop-crm", known);
    var rows = $("pop-contact-rows");
    rows.textContent = "";
    contacts.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-test", "pop-contact-row");
      tr.setAttribute("data-id", c.id);
      cell(tr, c.name);
      cell(tr, c.mobile);
      cell(tr, c.phone);
      cell(tr, c.email);
      cell(tr, t("gender_" + c.gender, c.gender));
      cell(tr, c.customer);
      cell(tr, c.business_status);
      rows.appendChild(tr);
    });
    $("pop-customers").textContent = customers.map(function (c) {
      return c.name + " (" + t("ctype_" + c.customer_type, c.customer_type) + ")";
    }).join(", ") || "–";
    var tickets = $("pop-tickets");
    tickets.textContent = "";
    (p.tickets || []).forEach(function (tk, i) {
      if (i > 0) { tickets.appendChild(document.createTextNode(", ")); }
      var a = document.createElement("a");
      a.href = tk.href;
      a.target = "_blank";
      a.rel = "noopener";
      a.setAttribute("data-test", "pop-ticket");
      a.textContent = "#" + tk.id + " " + tk.title + " (" + tk.status + ")";
      tickets.appendChild(a);
    });
    if (!(p.tickets || []).length) { tickets.textContent = "–"; }
    var nt = $("pop-new-ticket");
    if (p.new_ticket) {
      nt.href = p.new_ticket;
    }
    show("pop-new-ticket", !!p.new_ticket);
    $("pop-more").href = p.more;
    $("desk-pop").setAttribute("data-loaded", p.number);
  }

  // Only what /desk/pop looks up: a caller without a number (anonymous,
  // a SIP name) has no history to show.
  // `call`: the engine id of the agent's call with the number, if any; a
  // ticket opened from the pop is then tied to that call.
  function openPop(number, call) {
    if (!/^[0-9+*#]{1,32}$/.test(number || "")) {
      return;
    }
    popNumber = number;
    popCall = call || null;
    var seq = ++popSeq;
    error("pop-error", "");
    $("pop-number").textContent = number;
    $("desk-pop").setAttribute("data-loaded", "");
    show("desk-pop", true);
    var url = "/desk/pop?number=" + encodeURIComponent(number);
    if (call) {
      url += "&call=" + encodeURIComponent(call);
    }
    getJson(url).then(function (p) {
      if (seq === popSeq) {
        showPop(p);
      }
    }).catch(function (e) {
      if (seq === popSeq) {
        error("pop-error", e.message);
      }
    });
  }

  // The answered call's other party, once per call.
  function popForCall(call) {
    if (!call || !call.answered || call.id === poppedCall) {
      return;
    }
    poppedCall = call.id;
    var me = $("desk-ext").textContent;
    openPop(call.caller === me ? (call.b_party || call.callee) : call.caller, call.id);
  }

  function loadToday() {
    if (todayBusy) {
      todayAgain = true;
      return;
    }
    todayBusy = true;
    getJson("/desk/today").then(function (f) {
      $("today-answered").textContent = f.answered;
      $("today-made").textContent = f.made;
      $("today-talk").textContent = hms(f.talk_secs);
      $("today-aht").textContent = hms(f.aht_secs);
      $("today-missed").textContent = f.missed;
      $("desk-today").setAttribute("data-answered", f.answered);
    }).catch(function () {
      // Not logged in (any more): the next snapshot says so.
    }).then(function () {
      todayBusy = false;
      if (todayAgain) {
        todayAgain = false;
        loadToday();
      }
    });
  }

  function counters(c) {
    if (!c) {
      return;
    }
    $("count-in-service").textContent = c.in_service;
    $("count-waiting").textContent = c.waiting;
    $("count-online").textContent = c.online;
    $("count-busy").textContent = c.busy;
  }

  // The supervisor's floor view: one row per agent, kept from the pushed
  // rows (none of this exists on an agent's page).
  // (The server sends a supervisor the agents of its scope only.)
  var floor = {};

  function floorButton(action, agent, label, status) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small";
    b.setAttribute("data-action", "supervise");
    b.setAttribute("data-value", action);
    b.setAttribute("data-agent", agent);
    b.setAttribute("data-test", "floor-" + action + (status ? "-" + status : "") + "-" + agent);
    if (status) {
      b.setAttribute("data-status", status);
    }
    b.textContent = label;
    return b;
  }

  function renderFloor() {
    var body = $("floor-rows");
    if (!body) {
      return;
    }
    body.textContent = "";
    var ids = Object.keys(floor).sort();
    if (!ids.length) {
      var tr0 = document.createElement("tr");
      var td0 = document.createElement("td");
      td0.colSpan = 6;
      td0.className = "muted";
      td0.textContent = t("floor_none");
      tr0.appendChild(td0);
      body.appendChild(tr0);
      return;
    }
    ids.forEach(function (id) {
      var a = floor[id];
      var tr = document.createElement("tr");
      tr.setAttribute("data-test", "floor-row-" + id);
      tr.setAttribute("data-state", a.state || "");
      tr.setAttribute("data-status", a.status || "");
      var call = a.call ? (a.call.caller === id ? a.call.callee : a.call.caller) : "";
      [id, t("status_" + a.status, a.status || "–"), t("state_" + a.state, a.state || "–"),
        "–", call].forEach(function (v, i) {
        var td = document.createElement("td");
        td.textContent = v;
        if (i === 3 && a._since != null) {
          td.className = "floor-since";
          td.setAttribute("data-since", a._since);
        }
        tr.appendChild(td);
      });
      var acts = document.createElement("td");
      if (a.call && a.call.answered) {
        acts.appendChild(floorButton("listen", id, t("floor_listen")));
        acts.appendChild(floorButton("whisper", id, t("floor_whisper")));
        acts.appendChild(floorButton("barge", id, t("floor_barge")));
        acts.appendChild(floorButton("takeover", id, t("floor_takeover")));
      }
      acts.appendChild(floorButton("status", id, t("floor_ready"), "ready"));
      acts.appendChild(floorButton("status", id, t("floor_not_ready"), "not_ready"));
      acts.appendChild(floorButton("status", id, t("floor_logout"), "logout"));
      tr.appendChild(acts);
      body.appendChild(tr);
    });
  }

  function floorRow(a) {
    if (a && a.id) {
      a._since = a.state_ms == null ? null : Date.now() - a.state_ms;
      floor[a.id] = a;
    }
  }

  // Time in state ticks on the page; the rows change only when pushed.
  function floorTick() {
    var cells = document.querySelectorAll("#floor-rows td.floor-since");
    Array.prototype.forEach.call(cells, function (td) {
      td.textContent = hms((Date.now() - Number(td.getAttribute("data-since"))) / 1000);
    });
  }
  if ($("floor-rows")) {
    setInterval(floorTick, 1000);
  }

  function onMessage(m) {
    switch (m.type) {
      case "snapshot":
        if (m.floor) {
          floor = {};
          m.floor.forEach(floorRow);
          renderFloor();
          floorTick();
        }
        show("desk-floor", !!m.login);
        showAgent(m.agent);
        showOffer(m.offer);
        showCall(m.call);
        counters(m.counters);
        if (m.login) {
          $("desk-ext").textContent = m.login.extension;
        }
        show("desk-login", !m.login);
        show("desk-toolbar", !!m.login);
        announce(m.login);
        show("desk-today", !!m.login);
        if (m.login) {
          loadToday();
          if (m.offer && m.offer.caller !== popNumber) {
            openPop(m.offer.caller);
          }
          popForCall(m.call);
        } else {
          show("desk-pop", false);
        }
        break;
      case "agent":
        showAgent(m.agent);
        if (!m.agent || m.agent.state !== "Receiving") {
          showOffer(null);
        }
        break;
      case "offer":
        showOffer(m);
        openPop(m.caller);
        break;
      case "offer_end":
        showOffer(null);
        break;
      case "bridged":
        showOffer(null);
        break;
      case "call":
        showCall(m.call);
        popForCall(m.call);
        break;
      case "call_end":
        showCall(null);
        break;
      case "counters":
        counters(m.counters);
        break;
      case "figures":
        loadToday();
        break;
      case "floor_agent":
        floorRow(m.agent);
        renderFloor();
        break;
      case "appointment":
        // A contact's callback time is due (the server's reminder sweep).
        var li = document.createElement("li");
        li.setAttribute("data-test", "desk-reminder");
        var link = document.createElement("a");
        link.href = "/crm/contacts/" + m.contact;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = t("reminder", "Callback due") + ": " + m.name + " " + (m.number || "");
        li.appendChild(link);
        if (m.note) { li.appendChild(document.createTextNode(" – " + m.note)); }
        $("desk-reminders").appendChild(li);
        show("desk-reminders", true);
        break;
      case "floor":
        floor = {};
        (m.agents || []).forEach(floorRow);
        renderFloor();
        break;
      default:
        break;
    }
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    $("desk-link").textContent = t("connecting");
    socket = new WebSocket(proto + location.host + "/desk/ws");
    socket.onopen = function () {
      retry = 500;
      $("desk-link").textContent = t("online");
      root.setAttribute("data-connected", "1");
    };
    socket.onmessage = function (ev) {
      try {
        onMessage(JSON.parse(ev.data));
      } catch (e) {
        // A message we cannot read is skipped; the next snapshot repairs.
      }
    };
    socket.onclose = function () {
      root.setAttribute("data-connected", "0");
      $("desk-link").textContent = t("offline");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function reconnect() {
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    connect();
  }

  $("desk-login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    error("desk-login-error", "");
    post("/desk/login", {
      extension: f.extension.value,
      password: f.password.value,
      phone: f.phone.value
    }).then(function (j) {
      f.password.value = "";
      $("desk-ext").textContent = j.login.extension;
      show("desk-login", false);
      show("desk-toolbar", true);
      reconnect();
    }).catch(function (e) { error("desk-login-error", e.message); });
  });

  root.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-action]");
    if (!btn) {
      return;
    }
    var action = btn.getAttribute("data-action");
    var value = btn.getAttribute("data-value");
    var req;
    error("desk-error", "");
    if (action === "pop") {
      if (popNumber) {
        openPop(popNumber, popCall);
      } else {
        error("desk-error", t("no_call"));
      }
      return;
    }
    if (action === "pop-close") {
      show("desk-pop", false);
      return;
    }
    if (action === "key") {
      // One key of the keypad, sent to the other party at once.
      post("/desk/call/dtmf", { digits: value })
        .catch(function (e) { error("desk-error", e.message); });
      return;
    }
    if (action === "supervise") {
      error("floor-error", "");
      post("/desk/supervise/" + value, {
        agent: btn.getAttribute("data-agent"),
        status: btn.getAttribute("data-status") || ""
      }).catch(function (e) { error("floor-error", e.message); });
      return;
    }
    if (action === "status") {
      req = post("/desk/status", { status: value, reason: $("break-reason").value });
    } else if (action === "logout") {
      req = post("/desk/logout", {}).then(function () {
        announce(null);
        show("desk-toolbar", false);
        show("desk-today", false);
        show("desk-pop", false);
        show("desk-login", true);
        reconnect();
      });
    } else if (action === "dial") {
      req = post("/desk/dial", { number: $("desk-number").value });
    } else if (action === "call") {
      var fields = {};
      if (value === "transfer" || value === "conference" || value === "consult") {
        fields.to = $("desk-number").value;
      } else if (value === "dtmf") {
        fields.digits = $("desk-number").value;
      }
      req = post("/desk/call/" + value, fields);
    }
    if (req) {
      req.catch(function (e) { error("desk-error", e.message); });
    }
  });

  connect();
})();
