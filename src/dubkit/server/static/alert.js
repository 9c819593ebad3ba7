// The page's one error banner (#alert, role=alert).

import { $ } from "./dom.js";

export function showError(message) {
  $("alert-text").textContent = message;
  $("alert").hidden = false;
}

export function clearError() {
  $("alert").hidden = true;
  $("alert-text").textContent = "";
}
