// Live pages: when the run (or any run, on /runs) changes, fetch this page
// again and swap its <main> in place, so the server renders every state
// and this script knows nothing about runs. Changes come from the
// Server-Sent Events stream named by main[data-stream]; while the stream
// is down (or EventSource is missing) the page polls instead.
"use strict";
(function () {
  const main = document.querySelector("main[data-stream]");
  if (!main) return;
  const badge = document.getElementById("live");
  const POLL_MS = 3000;
  let busy = false, again = false, timer = null, poller = null;

  function say(text, on) {
    if (!badge) return;
    badge.textContent = text;
    badge.classList.toggle("on", on);
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const resp = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (resp.ok) {
        const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
        const fresh = doc.querySelector("main");
        if (fresh) {
          main.replaceChildren(...fresh.childNodes);
          main.dataset.refreshed = String(Number(main.dataset.refreshed || 0) + 1);
        }
      }
    } catch (e) {
      // The server is away; the next notice or poll tries again.
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  // Notices come in bursts (a batch, released parked events): one fetch each burst.
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  function poll(on) {
    if (on && !poller) { poller = setInterval(refresh, POLL_MS); say("live (polling)", true); }
    if (!on && poller) { clearInterval(poller); poller = null; }
  }

  if (!("EventSource" in window)) { poll(true); return; }
  const source = new EventSource(main.dataset.stream);
  source.addEventListener("open", () => { poll(false); say("live", true); });
  source.addEventListener("change", soon);
  source.addEventListener("lagged", soon);
  // EventSource reconnects by itself; poll until it is back.
  source.addEventListener("error", () => poll(true));
})();
