// Pies: the little JavaScript the pages use (no inline scripts: a Content-Security-Policy
// can forbid them). Every page works without it.
"use strict";

// A field's error goes away as soon as its value changes: the next submit or the live
// preview says whether the new value is right.
document.addEventListener("input", function (event) {
  const field = event.target.closest(".field-error");
  if (field) {
    field.classList.remove("field-error");
    field.querySelectorAll(".errorlist").forEach(function (list) { list.remove(); });
    event.target.removeAttribute("aria-invalid");
  }
});

// The pie editor: Cancel asks before it throws away changes that were not saved.
function markUnsaved(event) {
  const form = event.target.closest("#pie-form");
  // Searching and choosing where to add change nothing that a save would store.
  if (form && event.target.name !== "q" && event.target.name !== "add_to") {
    form.dataset.unsaved = "true";
  }
}
document.addEventListener("input", markUnsaved);
document.addEventListener("change", markUnsaved);
document.addEventListener("click", function (event) {
  const link = event.target.closest("[data-confirm-unsaved]");
  const form = document.getElementById("pie-form");
  if (!link || !form || form.dataset.unsaved !== "true") {
    return;
  }
  if (!window.confirm(link.dataset.confirmUnsaved)) {
    event.preventDefault();
  }
});
