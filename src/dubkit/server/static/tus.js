// Resumable uploads with tus (https://tus.io): one POST announces the file and its fields, then PATCHes send
// it in chunks. A chunk lost to a network error is resumed: HEAD asks the server how much arrived, and the
// upload goes on from there. (API users may still POST one multipart body to /upload.)

import { API, ApiError, authHeaders, errorFromResponse } from "./api.js";

const TUS_HEADERS = { "Tus-Resumable": "1.0.0" };
const CHUNK_BYTES = 4 * 1024 * 1024;
const MAX_RESUMES = 5;
const MAX_ROOM_WAITS = 20;

export const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("stopped", "AbortError"));
      }, { once: true });
    }
  });

function base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// The Upload-Metadata header of the upload's fields.
export function tusMetadata(fields) {
  return Object.entries(fields).map(([name, value]) => `${name} ${base64(value)}`).join(",");
}

export function tusFetch(url, method, headers, body, signal) {
  return fetch(url, {
    method,
    headers: { ...TUS_HEADERS, ...authHeaders(), ...headers },
    body,
    signal,
    cache: "no-store",
  });
}

// After a lost chunk: wait a little longer each time, then ask the server how far the upload got.
async function resumeOffset(url, signal, attempt) {
  for (let tries = attempt; ; tries += 1) {
    if (tries > MAX_RESUMES) {
      throw new ApiError(0, "The upload failed: the connection to the server was lost several times.", null);
    }
    await sleep(Math.min(8000, 400 * 2 ** (tries - 1)), signal);
    let response;
    try {
      response = await tusFetch(url, "HEAD", {}, undefined, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      continue;
    }
    if (response.status === 200) return { offset: Number(response.headers.get("Upload-Offset")), tries };
    throw await errorFromResponse(response);
  }
}

// Sends the file; resolves with the upload's URL and the created jobs' ids. `onCreated(url)` hears the
// upload's URL as soon as it exists (to terminate it when the person stops the upload).
export async function tusUpload(file, metadata, signal, onProgress, onCreated) {
  const created = await tusFetch(`${API}/uploads`, "POST", {
    "Upload-Length": String(file.size),
    "Upload-Metadata": metadata,
  }, undefined, signal);
  if (created.status !== 201) throw await errorFromResponse(created);
  const url = created.headers.get("Location");
  onCreated(url);
  let offset = 0;
  let resumes = 0;
  let roomWaits = 0;
  for (;;) {
    const chunk = file.slice(offset, Math.min(file.size, offset + CHUNK_BYTES));
    const headers = { "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" };
    let response;
    try {
      response = await tusFetch(url, "PATCH", headers, chunk, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      ({ offset, tries: resumes } = await resumeOffset(url, signal, resumes + 1));
      onProgress(offset, true);
      continue;
    }
    if (response.status === 204) {
      offset = Number(response.headers.get("Upload-Offset"));
      onProgress(offset, false);
      const ids = response.headers.get("Dubkit-Job-Ids");
      if (ids !== null) return { url, ids: ids.split(",").filter(Boolean) };
      continue;
    }
    if (response.status === 409 || response.status === 423) {
      ({ offset, tries: resumes } = await resumeOffset(url, signal, resumes + 1));
      continue;
    }
    if (response.status === 429 && offset + chunk.size === file.size && roomWaits < MAX_ROOM_WAITS) {
      // Every byte arrived, but the server runs as many of your jobs as it allows: wait, then ask again.
      roomWaits += 1;
      const wait = Math.min(60, Math.max(1, Number(response.headers.get("Retry-After")) || 5));
      onProgress(file.size, false, `Uploaded; waiting for one of your jobs to finish (${wait} s)…`);
      await sleep(wait * 1000, signal);
      offset = file.size;
      continue;
    }
    throw await errorFromResponse(response);
  }
}
