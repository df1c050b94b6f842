// The desk's browser phone: when the agent signs in to the desk with
// "Browser phone", the page registers the agent's extension over SIP on
// WebSocket (JsSIP, /assets/vendor-jssip.js) to this server's /ws, and
// queue and direct calls ring here: the offer shows Answer and Reject, a
// call plays through the headset (getUserMedia), Mute works locally, and
// everything else (hold, transfer, DTMF, hang-up) is the toolbar's, done
// by the server on the call. The extension's password stays in this tab's
// sessionStorage so a reload re-registers; signing out forgets it. Only
// one tab of the browser runs the phone (a Web Lock), so two tabs never
// both answer.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root || !window.JsSIP) {
    return;
  }
  var KEY = "switchboard.desk.phone";
  var $ = function (id) { return document.getElementById(id); };
  var ua = null;
  var session = null;
  var audio = $("phone-audio");

  function status(text, cls) {
    var el = $("phone-status");
    if (el) {
      el.textContent = text;
      el.className = cls || "";
    }
  }

  var i18n = JSON.parse(root.getAttribute("data-i18n") || "{}");
  function t(key, fallback) {
    return i18n[key] || fallback || key;
  }

  // What happened to the phone's calls, newest last (bounded): for the
  // agent's support staff (window.switchboardPhone.log) and tests.
  var log = [];
  function note(text) {
    log.push(new Date().toISOString().slice(11, 23) + " " + text);
    if (log.length > 100) {
      log.shift();
    }
  }

  function buttons() {
    var ringing = !!(session && !session.isEstablished() && !session.isEnded());
    var up = !!(session && session.isEstablished());
    $("btn-answer").hidden = !ringing;
    $("btn-reject").hidden = !ringing;
    $("btn-mute").hidden = !up;
    $("btn-mute").textContent = up && session.isMuted().audio ? t("unmute", "Unmute") : t("mute", "Mute");
  }

  function saved() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  function stop() {
    if (ua) {
      ua.stop();
      ua = null;
    }
    session = null;
    buttons();
    status("", "");
  }

  function attach(s) {
    session = s;
    s.on("peerconnection", function (e) {
      var pc = e.peerconnection;
      ["iceconnectionstatechange", "connectionstatechange"].forEach(function (name) {
        pc.addEventListener(name, function () {
          note(name + ":" + (pc.iceConnectionState || "") + "/" + (pc.connectionState || ""));
        });
      });
      e.peerconnection.addEventListener("track", function (ev) {
        if (audio && ev.streams && ev.streams[0]) {
          audio.srcObject = ev.streams[0];
          var p = audio.play();
          if (p && p.catch) {
            p.catch(function () {});
          }
        }
      });
    });
    ["accepted", "confirmed", "muted", "unmuted", "progress"].forEach(function (ev) {
      s.on(ev, buttons);
    });
    ["ended", "failed"].forEach(function (ev) {
      s.on(ev, function (e) {
        if (session === s) {
          session = null;
        }
        root.setAttribute("data-phone-last", ev + ":" + (e && e.cause ? e.cause : ""));
        note(ev + ":" + (e && e.cause ? e.cause : ""));
        buttons();
      });
    });
    buttons();
  }

  function start(ext, password) {
    stop();
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new JsSIP.WebSocketInterface(proto + location.host + "/ws");
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: "sip:" + ext + "@" + location.hostname,
      password: password,
      register: true,
      session_timers: false
    });
    status(t("phone_connecting", "Phone: connecting"), "muted");
    ua.on("registered", function () {
      status(t("phone_ready", "Browser phone ready"), "ok");
      root.setAttribute("data-phone", "registered");
    });
    ua.on("unregistered", function () {
      root.setAttribute("data-phone", "unregistered");
    });
    ua.on("registrationFailed", function (e) {
      var why = e.response ? e.response.status_code + " " + e.response.reason_phrase : e.cause;
      status(t("phone_failed", "Browser phone not registered") + ": " + why, "error");
      root.setAttribute("data-phone", "failed");
    });
    ua.on("newRTCSession", function (e) {
      if (e.originator === "remote") {
        if (session) {
          // Busy on this phone: the server offers the next agent.
          e.session.terminate({ status_code: 486 });
          return;
        }
        attach(e.session);
        // A call the desk asked the server for (click-to-dial, a
        // supervisor's listen): only our server reaches this phone, and it
        // asks for auto-answer on those alone.
        var info = e.request.getHeader("Call-Info") || "";
        if (/answer-after=0/.test(info)) {
          e.session.answer({ mediaConstraints: { audio: true, video: false } });
        }
      }
    });
    ua.start();
  }

  function run(ext, password) {
    // One tab of this browser runs the phone; the others wait their turn.
    if (navigator.locks && navigator.locks.request) {
      navigator.locks.request(KEY, function () {
        start(ext, password);
        return new Promise(function (resolve) {
          window.addEventListener("pagehide", resolve);
          root.addEventListener("phone-stop", resolve);
        });
      });
    } else {
      start(ext, password);
    }
  }

  var form = $("desk-login-form");
  if (form) {
    // Seen before desk.js posts the sign-in (capture phase).
    form.addEventListener("submit", function () {
      var browser = $("desk-phone-browser");
      if (browser && browser.checked) {
        sessionStorage.setItem(KEY, JSON.stringify({
          ext: $("desk-extension").value,
          password: $("desk-password").value
        }));
      } else {
        sessionStorage.removeItem(KEY);
      }
    }, true);
  }

  // desk.js announces the sign-in state (and a sign-out).
  root.addEventListener("desk-login", function (e) {
    var creds = saved();
    if (e.detail && e.detail.loggedIn && creds && creds.ext === e.detail.extension) {
      if (!ua) {
        run(creds.ext, creds.password);
      }
    } else if (e.detail && !e.detail.loggedIn) {
      sessionStorage.removeItem(KEY);
      root.dispatchEvent(new Event("phone-stop"));
      stop();
    }
  });

  // For integrations and tests: the call on this phone (JsSIP's session).
  window.switchboardPhone = { session: function () { return session; }, log: log };

  $("btn-answer").addEventListener("click", function () {
    if (session && !session.isEstablished()) {
      session.answer({ mediaConstraints: { audio: true, video: false } });
    }
  });
  $("btn-reject").addEventListener("click", function () {
    if (session && !session.isEstablished()) {
      session.terminate({ status_code: 486 });
    }
  });
  $("btn-mute").addEventListener("click", function () {
    if (!session || !session.isEstablished()) {
      return;
    }
    if (session.isMuted().audio) {
      session.unmute({ audio: true });
    } else {
      session.mute({ audio: true });
    }
    buttons();
  });
  buttons();
})();
