// Progressive behaviour of every page; the pages work without it.
(function () {
  "use strict";
  // Forms marked data-confirm ask before they submit (deleting, activating).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
