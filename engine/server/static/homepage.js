// The homepage's script: copy buttons (async clipboard API, execCommand fallback) and the
// endpoint picker that swaps the URL inside every client snippet.
(function () {
  "use strict";
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }
  function flash(button, label, done) {
    if (!button.dataset.label) { button.dataset.label = button.textContent; }
    button.textContent = label;
    button.classList.toggle("done", done);
    window.setTimeout(function () {
      button.textContent = button.dataset.label;
      button.classList.remove("done");
    }, 1600);
  }
  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-target]");
    if (!button) { return; }
    var source = document.getElementById(button.dataset.target);
    copy(source.textContent).then(
      function () { flash(button, "Copied", true); },
      function () { select(source); flash(button, "Press Ctrl+C", false); }
    );
  });
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.name !== "surface") { return; }
    document.querySelectorAll("span.u").forEach(function (span) {
      span.textContent = input.dataset[span.dataset.kind];
    });
  });
})();
