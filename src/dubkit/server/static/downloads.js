// Saving a job's files: a plain link without an API key (the browser streams the file to disk), else the
// file fetched with the key and saved from a blob: URL (a link cannot send the X-API-Key header).

import { apiKey, request } from "./api.js";

function filenameFrom(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      /* fall through */
    }
  }
  const plain = /filename="([^"]+)"/i.exec(header);
  return plain ? plain[1] : fallback;
}

function clickLink(href, filename) {
  const link = document.createElement("a");
  link.href = href;
  link.download = filename || "";
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

// Save the file at `path` (the server names it); rejects with an ApiError when it cannot be fetched.
export async function save(path, fallbackName) {
  if (!apiKey()) {
    clickLink(path, "");
    return;
  }
  const response = await request(path, { raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  clickLink(url, filenameFrom(response, fallbackName));
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
