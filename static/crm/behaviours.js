// What would otherwise be inline attributes (onclick, onchange, style), which the site's
// Content-Security-Policy forbids: markup says what it wants with data attributes, this applies it.
//   data-autosubmit            a select that submits its form when changed
//   data-confirm="question"    a button or link that asks first
//   data-remove-closest="sel"  a button that removes its closest `sel` (closing a panel)
//   data-width="42"            a bar 42 % wide      data-height-px="120"  a box 120 px high
//   data-heat="37"             a heat-map cell at 37 % of the primary colour
(function () {
  "use strict";
  var styles = {
    "data-width": function (el) { el.style.width = Number(el.dataset.width) + "%"; },
    "data-height-px": function (el) { el.style.height = Number(el.dataset.heightPx) + "px"; },
    "data-heat": function (el) { el.style.backgroundColor = "rgba(13, 110, 253, " + Number(el.dataset.heat) / 100 + ")"; },
  };

  function apply(root) {
    Object.keys(styles).forEach(function (attribute) {
      var selector = "[" + attribute + "]";
      if (root.matches && root.matches(selector)) styles[attribute](root);
      if (root.querySelectorAll) root.querySelectorAll(selector).forEach(styles[attribute]);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { apply(document); });
  // htmx announces every piece of content it swaps in (progress bars that poll, panels).
  document.addEventListener("htmx:load", function (event) { apply(event.target); });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches("[data-autosubmit]") && field.form) field.form.submit();
  });

  document.addEventListener("click", function (event) {
    var asking = event.target.closest("[data-confirm]");
    if (asking && !window.confirm(asking.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var closer = event.target.closest("[data-remove-closest]");
    if (closer) {
      var panel = closer.closest(closer.dataset.removeClosest);
      if (panel) panel.remove();
    }
  }, true);
})();
