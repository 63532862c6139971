"""The homepage's inline stylesheet and script, and the content-security-policy that allows
exactly these two blocks (by hash) and nothing else: no external asset, no inline handler."""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root{--bg:#f5f6f8;--card:#fff;--ink:#1c2330;--muted:#5b6474;--line:#e2e5ea;--accent:#2f5bd3;
--code:#f1f3f6;--ok:#1d7a46;--ok-bg:#e3f4ea;--wait:#8a5a00;--wait-bg:#fdf1d8;--err:#b42318;
--err-bg:#fde7e5;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1a1f27;--ink:#e7eaf0;
--muted:#9aa3b2;--line:#2a313c;--accent:#8aa8ff;--code:#232a35;--ok:#6fd39a;--ok-bg:#173326;
--wait:#f0c66b;--wait-bg:#3a2e12;--err:#ff8f85;--err-bg:#3d1b19}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);line-height:1.5;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:880px;margin:0 auto;padding:32px 20px 48px}
header.top{margin-bottom:24px}
.eyebrow{margin:0;color:var(--accent);font-weight:600;font-size:13px;letter-spacing:.06em;
text-transform:uppercase}
h1{margin:4px 0 6px;font-size:30px;line-height:1.2;overflow-wrap:anywhere}
h2{font-size:18px;margin:0 0 4px}
.lead{margin:0 0 10px;color:var(--muted);font-size:16px;overflow-wrap:anywhere}
.meta{margin:0;display:flex;flex-wrap:wrap;gap:8px}
.chip{background:var(--card);border:1px solid var(--line);border-radius:999px;padding:2px 10px;
font-size:13px;color:var(--muted)}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;
padding:20px;margin-bottom:18px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.hint{margin:0 0 14px;color:var(--muted);font-size:14px}
ul{list-style:none;margin:0;padding:0}
.endpoint{padding:12px 0;border-top:1px solid var(--line)}
.endpoint:first-child{border-top:0;padding-top:0}
.ep-name{font-weight:600}
.ep-desc{color:var(--muted);font-size:14px;margin:0 0 6px}
.copyrow{display:flex;gap:8px;align-items:stretch}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:13px}
.copyrow code{flex:1;min-width:0;background:var(--code);border-radius:8px;padding:8px 10px;
overflow-wrap:anywhere}
button.copy{flex:none;border:1px solid var(--line);background:var(--card);color:var(--ink);
border-radius:8px;padding:6px 12px;font:inherit;font-size:13px;font-weight:600;cursor:pointer;
min-width:76px}
button.copy:hover{border-color:var(--accent);color:var(--accent)}
button.copy:focus-visible,summary:focus-visible,input:focus-visible{outline:2px solid var(--accent);
outline-offset:2px}
button.copy.done{background:var(--ok-bg);color:var(--ok);border-color:transparent}
.off .copyrow code{opacity:.55;text-decoration:line-through}
.note{margin:6px 0 0;font-size:13px;color:var(--wait);background:var(--wait-bg);
border-radius:8px;padding:6px 10px}
fieldset.pick{border:0;margin:0 0 12px;padding:0;display:flex;flex-wrap:wrap;gap:6px}
fieldset.pick legend{font-size:13px;color:var(--muted);margin-bottom:6px;padding:0}
.pick label{display:inline-flex;align-items:center;gap:6px;border:1px solid var(--line);
border-radius:999px;padding:3px 12px;font-size:13px;cursor:pointer}
.pick input{margin:0;accent-color:var(--accent)}
details{border-top:1px solid var(--line)}
details:first-of-type{border-top:0}
summary{cursor:pointer;padding:10px 0;font-weight:600}
details p{margin:0 0 8px;font-size:14px;color:var(--muted)}
.snippet{display:flex;gap:8px;align-items:flex-start;margin-bottom:12px}
.snippet pre{flex:1;min-width:0;margin:0;background:var(--code);border-radius:8px;
padding:10px 12px;white-space:pre-wrap;overflow-wrap:anywhere}
.server{padding:12px 0;border-top:1px solid var(--line)}
.server:first-child{border-top:0;padding-top:0}
.srv-head{display:flex;flex-wrap:wrap;align-items:center;gap:8px}
.srv-name{font-weight:600}
.srv-id{color:var(--muted);font-size:12px}
.pill{border-radius:999px;padding:1px 10px;font-size:12px;font-weight:700}
.pill.ready{background:var(--ok-bg);color:var(--ok)}
.pill.waiting{background:var(--wait-bg);color:var(--wait)}
.pill.error{background:var(--err-bg);color:var(--err)}
.srv-meta{margin-left:auto;color:var(--muted);font-size:13px}
.cause{margin:6px 0 0;font-size:13px;color:var(--err);background:var(--err-bg);
border-radius:8px;padding:6px 10px;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:13px;text-align:center}
footer a{color:var(--accent)}
.offscreen{position:fixed;left:-9999px;top:0}
@media (max-width:560px){main{padding:20px 12px 32px}h1{font-size:24px}
section{padding:16px}.copyrow,.snippet{flex-direction:column;align-items:stretch}
button.copy{align-self:flex-start}.srv-meta{margin-left:0;width:100%}}
"""

JS = """
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
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"style-src {_sha256(CSS)}",
        f"script-src {_sha256(JS)}",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
