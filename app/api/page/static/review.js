// Keel review page: the forms work without this; it only stops a second click from
// posting the same decision twice while the first is on its way.
document.addEventListener("submit", function (event) {
  var buttons = event.target.querySelectorAll("button[type=submit]");
  setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
});
