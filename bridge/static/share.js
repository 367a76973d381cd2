// Copy buttons of the share block: a button with data-copy="ID" copies the value of element ID.
// Without JavaScript the fields stay selectable, so nothing depends on this file.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copy + "-status");
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select();
    document.execCommand("copy");
  }
  if (status) status.textContent = button.dataset.copied;
});
