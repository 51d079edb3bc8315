// The plan document's print view: its button opens the browser's print dialog (save as PDF).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
