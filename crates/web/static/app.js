// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // An error summary takes focus so screen readers announce it and keyboard users start there.
  const summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();
});
