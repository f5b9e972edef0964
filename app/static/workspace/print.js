// The "Imprimer" button of the printable pages (no inline handler: the CSP forbids them).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
