// The catalog index's filter box. The page lists every type without it;
// this only reveals the box and hides the rows (and empty domains) that do
// not contain what is typed.
"use strict";
(function () {
  const box = document.getElementById("filter");
  if (!box) return;
  box.hidden = false;
  const rows = Array.from(document.querySelectorAll("[data-search]"));
  const domains = Array.from(document.querySelectorAll("section.domain"));
  function apply() {
    const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of rows) {
      const text = row.dataset.search;
      row.hidden = !words.every((w) => text.includes(w));
    }
    for (const d of domains) {
      d.hidden = d.querySelectorAll("[data-search]:not([hidden])").length === 0;
    }
  }
  box.addEventListener("input", apply);
  apply();
})();
