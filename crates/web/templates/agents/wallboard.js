// The wallboard's full-screen button (the Fullscreen API): the TV page
// puts the whole page in full screen, the normal page its board only.
// The board itself is a live part (app.js): pushed by the server.
(function () {
  "use strict";
  var btn = document.getElementById("btn-fullscreen");
  if (!btn) {
    return;
  }
  if (!document.fullscreenEnabled) {
    btn.hidden = true;
    return;
  }
  btn.addEventListener("click", function () {
    if (document.fullscreenElement) {
      document.exitFullscreen();
      return;
    }
    var target = btn.getAttribute("data-target") === "page"
      ? document.documentElement
      : document.getElementById("wallboard");
    if (target && target.requestFullscreen) {
      target.requestFullscreen().catch(function () {});
    }
  });
})();
