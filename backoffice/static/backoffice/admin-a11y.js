// What Django's own admin pages leave short of WCAG 2.2 AA (docs/decisions/0027-accessibility.md).
(function () {
  "use strict";

  function mend() {
    // The search icons of the two-list chooser (groups, permissions) carry a label on a
    // plain span, which assistive technology may ignore: named as an image.
    document.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
    // A table wider than a phone scrolls inside its own box (the changelist's results, a
    // tabular inline), not the page (1.4.10): the box takes the focus, so the keyboard can
    // scroll it (2.1.1), and is named after its heading.
    document.querySelectorAll("#changelist .results, .inline-group").forEach(function (box) {
      var style = window.getComputedStyle(box);
      if (box.hasAttribute("tabindex") || !/auto|scroll/.test(style.overflowX)) return;
      var heading = box.querySelector("h2") || document.querySelector("#content h1");
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", (heading ? heading.textContent : document.title).trim());
    });
  }

  window.addEventListener("load", function () {
    window.setTimeout(mend, 0);
  });
  window.addEventListener("resize", mend);
})();
