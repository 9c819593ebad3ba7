// dubkit's reference web page: plain JavaScript modules over the /api/v1 endpoints, no build step.
//
// Runs under a strict Content-Security-Policy (default-src 'self'): no inline handlers, no eval, and every
// piece of server or user text enters the page through textContent, never innerHTML. This module holds the
// page's state and wiring: the upload form, the job on show (its progress over a WebSocket), the preview and
// the job list. Its helpers are modules of their own: api.js (requests), dom.js, alert.js, tus.js (resumable
// uploads), downloads.js, languages.js, and the line editor in editor/.

import { API, ApiError, apiKey, keepApiKey, playableUrl, request } from "./api.js";
import { clearError, showError } from "./alert.js";
import { $, cell, clear, megabytes, option, percent } from "./dom.js";
import { save } from "./downloads.js";
import { LineEditor } from "./editor/editor.js";
import { tusFetch, tusMetadata, tusUpload } from "./tus.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const STATUS_LABELS = {
  uploaded: "Waiting",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};
const PAGE_SIZE = 20;
const MAX_SOCKET_RETRIES = 3;
const POLL_MS = 1500;
const PREVIEW_MAX_SECONDS = 60;

const state = {
  selected: null, // the Job shown in the job panel
  socket: null,
  socketRetries: 0,
  pollTimer: null,
  listTimer: null,
  listOffset: 0,
  listJobs: [],
  uploadRequest: null, // the AbortController of the upload in progress
  uploadUrl: null, // its tus upload URL, once created
  preview: null, // the preview's playable URL (to release)
};

let editor = null; // the LineEditor, made by init()

function statusLabel(status) {
  return STATUS_LABELS[status] || String(status);
}

function jobTitle(job) {
  return `${job.original_filename} (${job.source_language} → ${job.target_language})`;
}

// A job with a result to download (completed, or re-dubbing while its last result stays available).
function hasResult(job) {
  return Number.isFinite(job.result_version) && (job.status === "completed" || !TERMINAL.has(job.status));
}

// ---------------------------------------------------------------- start-up data

async function loadLanguages() {
  // Only the pairs the server can dub, and why others are missing: see languages.js.
  const [body, { showLanguages }] = await Promise.all([request(`${API}/languages`), import("./languages.js")]);
  showLanguages(body, { source: $("source-language"), target: $("target-language"), missing: $("target-missing") });
}

async function loadBackends() {
  const body = await request(`${API}/backends`);
  for (const select of document.querySelectorAll("#backend-fields select")) {
    const stage = select.dataset.stage;
    const previous = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const backend of body.backends.filter((b) => b.stage === stage)) {
      const label = backend.available ? backend.name : `${backend.name} (unavailable${backend.reason ? `: ${backend.reason}` : ""})`;
      option(select, backend.name, label, !backend.available);
    }
    select.value = Array.from(select.options).some((o) => o.value === previous) ? previous : "";
  }
}

async function loadHealth() {
  const body = await request(`${API}/health`);
  $("server-version").textContent = `dubkit ${body.version}`;
  // The server refuses a bigger body at once (413, from its Content-Length); this only informs.
  if (Number.isFinite(body.max_upload_bytes)) $("max-size").textContent = megabytes(body.max_upload_bytes);
}

async function loadAll() {
  clearError();
  const results = await Promise.allSettled([loadHealth(), loadLanguages(), loadBackends(), refreshJobs()]);
  const failure = results.find((r) => r.status === "rejected");
  if (failure) {
    showError(failure.reason.message || String(failure.reason));
    if (failure.reason.status === 401) $("api-key").closest("details").open = true;
  }
}

// ---------------------------------------------------------------- upload

function uploadMetadata() {
  const file = $("file").files[0];
  const targets = Array.from($("target-language").selectedOptions, (o) => o.value);
  if (!file) throw new Error("Choose a video or audio file first.");
  if (!targets.length) throw new Error("Choose at least one language to dub into.");
  if (!file.size) throw new Error("The file is empty.");
  const fields = {
    filename: file.name,
    source_language: $("source-language").value || "auto",
    target_language: targets.join(","),
  };
  for (const select of document.querySelectorAll("#backend-fields select")) {
    if (select.value) fields[select.name] = select.value;
  }
  return { file, metadata: tusMetadata(fields) };
}

function setUploading(uploading) {
  $("upload-button").disabled = uploading;
  $("upload-abort").hidden = !uploading;
  $("upload-form").setAttribute("aria-busy", uploading ? "true" : "false");
}

async function onUpload(event) {
  event.preventDefault();
  clearError();
  let prepared;
  try {
    prepared = uploadMetadata();
  } catch (error) {
    showError(error.message);
    return;
  }
  const { file, metadata } = prepared;
  const controller = new AbortController();
  const bar = $("upload-progress");
  const text = $("upload-text");
  const started = performance.now();
  state.uploadRequest = controller;
  state.uploadUrl = null;
  $("upload-progress-block").hidden = false;
  bar.value = 0;
  text.textContent = `Uploading ${file.name}…`;
  setUploading(true);

  const onProgress = (sent, resumed, message) => {
    bar.value = sent / file.size;
    if (message) {
      text.textContent = message;
    } else if (sent >= file.size) {
      text.textContent = "Uploaded; the server is checking the file…";
    } else {
      const elapsed = (performance.now() - started) / 1000;
      const rate = elapsed > 0 && !resumed ? ` · ${megabytes(sent / elapsed)}/s` : "";
      const again = resumed ? " · resuming after a network error" : "";
      text.textContent = `${megabytes(sent)} of ${megabytes(file.size)} (${percent(sent / file.size)})${rate}${again}`;
    }
  };

  try {
    const { url } = await tusUpload(file, metadata, controller.signal, onProgress, (created) => {
      state.uploadUrl = created;
    });
    bar.value = 1;
    const upload = await request(url);
    const jobs = Array.isArray(upload.jobs) ? upload.jobs : [];
    text.textContent = `Uploaded ${file.name}: ${jobs.length} job${jobs.length === 1 ? "" : "s"} started.`;
    if (jobs.length) selectJob(jobs[0], { focus: false });
    refreshJobs().catch((error) => showError(error.message));
  } catch (error) {
    bar.value = 0;
    if (controller.signal.aborted) {
      text.textContent = "Upload stopped.";
      // Termination: the server drops what it received (best effort; it also expires unfinished uploads).
      if (state.uploadUrl) tusFetch(state.uploadUrl, "DELETE", {}, undefined, undefined).catch(() => {});
    } else {
      text.textContent = "The upload was not accepted.";
      showError(error instanceof ApiError ? error.message : `The upload failed: ${error.message}`);
    }
  } finally {
    state.uploadRequest = null;
    state.uploadUrl = null;
    setUploading(false);
  }
}

// ---------------------------------------------------------------- the selected job

function stopWatching() {
  if (state.socket) {
    const socket = state.socket;
    state.socket = null;
    socket.close(1000);
  }
  if (state.pollTimer) {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }
  state.socketRetries = 0;
}

function selectJob(job, { focus } = { focus: true }) {
  stopWatching();
  const changed = !state.selected || state.selected.id !== job.id;
  state.selected = job;
  if (changed) {
    resetPreview();
    editor.reset();
    $("job-message").textContent = "";
  }
  $("job-panel").hidden = false;
  renderJob(job);
  markSelectedRow();
  if (focus) $("job-heading").focus();
  if (TERMINAL.has(job.status)) {
    onFinished(job);
  } else {
    if (hasResult(job)) showLines(job); // re-dubbing: its last result's lines, read-only
    connectSocket(job);
  }
}

function showLines(job) {
  editor.show(job).catch((error) => showError(error.message));
}

function renderJob(job) {
  $("job-heading").textContent = jobTitle(job);
  $("job-file").textContent = job.original_filename;
  $("job-languages").textContent = `${job.source_language} → ${job.target_language}`;
  const status = $("job-status");
  status.textContent = statusLabel(job.status);
  status.dataset.status = job.status;
  status.className = `status status-${job.status}`;
  $("job-stage").textContent = job.stage || "–";
  $("job-progress").value = Number.isFinite(job.progress) ? job.progress : 0;
  const finished = TERMINAL.has(job.status);
  const completed = job.status === "completed";
  const result = hasResult(job);
  $("job-version").textContent = result ? `version ${job.result_version}${completed ? "" : " (a re-dub runs)"}` : "–";
  $("cancel-button").disabled = finished;
  $("download-button").disabled = !result;
  $("srt-button").disabled = !result;
  $("vtt-button").disabled = !result;
  $("preview-section").hidden = !result;
  if (job.status === "uploaded" && !$("job-message").textContent) {
    $("job-message").textContent = "Waiting for a worker…";
  } else if (job.status === "failed") {
    $("job-message").textContent = `Failed: ${job.error_message || "no reason given"}`;
  } else if (job.status === "cancelled") {
    $("job-message").textContent = "Cancelled.";
  } else if (completed) {
    const took = Number.isFinite(job.processing_time_seconds) ? ` in ${job.processing_time_seconds.toFixed(1)} s` : "";
    const size = Number.isFinite(job.output_size) ? ` · ${megabytes(job.output_size)}` : "";
    const note = job.error_message ? ` Note: ${job.error_message}` : "";
    $("job-message").textContent = `Completed${took}${size}.${note}`;
  }
}

function onProgressEvent(message) {
  const job = state.selected;
  if (!job || message.job_id !== job.id) return;
  if (message.status) job.status = message.status;
  if ("stage" in message) job.stage = message.stage;
  if (Number.isFinite(message.progress)) job.progress = message.progress;
  renderJob(job);
  const stage = message.stage ? `${message.stage}` : statusLabel(job.status);
  const fraction = Number.isFinite(message.fraction) ? ` ${percent(message.fraction)}` : "";
  const text = message.message ? ` — ${message.message}` : "";
  if (!TERMINAL.has(job.status)) $("job-message").textContent = `${stage}${fraction}${text}`;
}

async function onFinished(job) {
  stopWatching();
  let fresh = job;
  try {
    fresh = await request(`${API}/jobs/${encodeURIComponent(job.id)}/status`);
  } catch (error) {
    showError(error.message);
  }
  if (!state.selected || state.selected.id !== job.id) return;
  state.selected = fresh;
  renderJob(fresh);
  if (fresh.status === "completed") showLines(fresh);
  refreshJobs().catch(() => undefined);
}

function setTransport(text) {
  $("job-transport").textContent = text;
}

function connectSocket(job) {
  if (typeof WebSocket === "undefined") {
    startPolling(job);
    return;
  }
  const url = new URL(job.links.progress, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const key = apiKey();
  if (key) url.searchParams.set("api_key", key);
  let socket;
  try {
    socket = new WebSocket(url.toString());
  } catch {
    startPolling(job);
    return;
  }
  state.socket = socket;
  let finished = false;
  socket.addEventListener("open", () => {
    state.socketRetries = 0;
    setTransport("Live updates over a WebSocket.");
    $("job-panel").dataset.transport = "websocket";
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (state.socket !== socket) return;
    if (message.type === "progress") {
      onProgressEvent(message);
    } else if (message.type === "final") {
      finished = true;
      const current = state.selected;
      current.status = message.status;
      current.error_message = message.error_message || null;
      renderJob(current);
      onFinished(current);
    }
  });
  socket.addEventListener("close", (event) => {
    if (state.socket !== socket) return; // closed on purpose
    state.socket = null;
    if (finished) return;
    if (event.code >= 4000 || state.socketRetries >= MAX_SOCKET_RETRIES) {
      startPolling(job);
      return;
    }
    state.socketRetries += 1;
    const delay = 500 * 2 ** state.socketRetries;
    setTransport(`Connection lost; reconnecting in ${(delay / 1000).toFixed(0)} s…`);
    state.pollTimer = setTimeout(() => {
      state.pollTimer = null;
      if (state.selected && state.selected.id === job.id) connectSocket(job);
    }, delay);
  });
}

function startPolling(job) {
  setTransport("Live updates unavailable; checking every few seconds.");
  $("job-panel").dataset.transport = "polling";
  let failures = 0;
  const poll = async () => {
    state.pollTimer = null;
    if (!state.selected || state.selected.id !== job.id) return;
    try {
      const fresh = await request(`${API}/jobs/${encodeURIComponent(job.id)}/status`);
      failures = 0;
      if (!state.selected || state.selected.id !== job.id) return;
      state.selected = fresh;
      renderJob(fresh);
      if (fresh.stage) $("job-message").textContent = `${fresh.stage} ${percent(fresh.progress)}`;
      if (TERMINAL.has(fresh.status)) {
        onFinished(fresh);
        return;
      }
    } catch (error) {
      failures += 1;
      if (error.status === 404 || error.status === 401 || failures >= 3) {
        showError(error.message);
        if (error.status === 404 || error.status === 401) return;
      }
    }
    state.pollTimer = setTimeout(poll, POLL_MS);
  };
  state.pollTimer = setTimeout(poll, 0);
}

async function onCancel() {
  const job = state.selected;
  if (!job) return;
  clearError();
  $("cancel-button").disabled = true;
  try {
    const fresh = await request(`${API}/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" });
    if (state.selected && state.selected.id === fresh.id) {
      Object.assign(state.selected, fresh);
      renderJob(state.selected);
      $("job-message").textContent = TERMINAL.has(fresh.status) ? $("job-message").textContent : "Cancelling…";
      if (TERMINAL.has(fresh.status)) onFinished(fresh);
    }
    refreshJobs().catch(() => undefined);
  } catch (error) {
    $("cancel-button").disabled = false;
    showError(error.message);
  }
}

// ---------------------------------------------------------------- preview

function resetPreview() {
  const video = $("preview-video");
  video.removeAttribute("src");
  video.load();
  if (state.preview) {
    state.preview.release();
    state.preview = null;
  }
}

async function onPreview(event) {
  event.preventDefault();
  clearError();
  const job = state.selected;
  if (!job) return;
  const start = Number.parseFloat($("preview-start").value);
  const end = Number.parseFloat($("preview-end").value);
  if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || end <= start) {
    showError("Choose a time range whose end is after its start.");
    return;
  }
  if (end - start > PREVIEW_MAX_SECONDS) {
    showError(`A preview is at most ${PREVIEW_MAX_SECONDS} seconds long.`);
    return;
  }
  const url = new URL(job.links.preview, window.location.href);
  url.searchParams.set("start", String(start));
  url.searchParams.set("end", String(end));
  resetPreview();
  const video = $("preview-video");
  try {
    state.preview = await playableUrl(url.pathname + url.search);
    video.src = state.preview.url;
    video.load();
  } catch (error) {
    showError(error.message);
  }
}

// A <video> cannot read an error body: ask again with fetch to show the problem details.
async function onPreviewError() {
  const video = $("preview-video");
  const source = video.getAttribute("src");
  if (!source || source.startsWith("blob:")) {
    if (source) showError("The preview could not be played.");
    return;
  }
  try {
    await request(source, { raw: true });
    showError("The preview could not be played by this browser.");
  } catch (error) {
    showError(error.message);
  }
}

// ---------------------------------------------------------------- the job list

async function refreshJobs() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(state.listOffset) });
  const filter = $("jobs-filter").value;
  if (filter) params.set("status", filter);
  const body = await request(`${API}/jobs?${params}`);
  state.listJobs = body.jobs;
  renderJobs(body);
  scheduleListRefresh();
}

function renderJobs(body) {
  const tbody = $("jobs-table").tBodies[0];
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.jobId : undefined;
  clear(tbody);
  for (const job of body.jobs) {
    const row = document.createElement("tr");
    row.dataset.jobId = job.id;
    cell(row, job.original_filename);
    cell(row, `${job.source_language} → ${job.target_language}`);
    const status = cell(row, statusLabel(job.status), `status status-${job.status}`);
    status.dataset.status = job.status;
    const progressCell = cell(row, "");
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = Number.isFinite(job.progress) ? job.progress : 0;
    bar.setAttribute("aria-label", `Progress of ${jobTitle(job)}`);
    progressCell.appendChild(bar);
    progressCell.appendChild(document.createTextNode(` ${percent(job.progress || 0)}`));
    cell(row, new Date(job.created_at).toLocaleString());
    const actions = cell(row, "");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link";
    open.textContent = "Open";
    open.dataset.jobId = job.id;
    open.setAttribute("aria-label", `Open ${jobTitle(job)}`);
    actions.appendChild(open);
    tbody.appendChild(row);
    if (focused === job.id) open.focus();
  }
  $("jobs-empty").hidden = body.total > 0;
  const last = Math.min(body.offset + body.jobs.length, body.total);
  $("jobs-count").textContent = body.total ? `${body.offset + 1}–${last} of ${body.total}` : "";
  $("jobs-newer").disabled = body.offset <= 0;
  $("jobs-older").disabled = body.offset + body.jobs.length >= body.total;
  markSelectedRow();
}

function markSelectedRow() {
  const id = state.selected ? state.selected.id : null;
  for (const row of $("jobs-table").tBodies[0].rows) {
    row.classList.toggle("selected", row.dataset.jobId === id);
    if (row.dataset.jobId === id) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
}

function scheduleListRefresh() {
  if (state.listTimer) clearTimeout(state.listTimer);
  const busy = state.listJobs.some((job) => !TERMINAL.has(job.status));
  state.listTimer = setTimeout(() => {
    state.listTimer = null;
    if (document.hidden) {
      scheduleListRefresh();
      return;
    }
    refreshJobs().catch(() => scheduleListRefresh());
  }, busy ? 3000 : 15000);
}

function onJobsClick(event) {
  const button = event.target.closest("button[data-job-id]");
  if (!button) return;
  const job = state.listJobs.find((j) => j.id === button.dataset.jobId);
  if (job) selectJob(job, { focus: true });
}

// ---------------------------------------------------------------- wiring

// Another key is another user: forget the job on show and its results.
function forgetSelectedJob() {
  stopWatching();
  resetPreview();
  editor.reset();
  state.selected = null;
  state.listOffset = 0;
  $("job-panel").hidden = true;
}

function onSaveKey(event) {
  event.preventDefault();
  if (!keepApiKey($("api-key").value.trim())) showError("This browser does not let the page keep the key.");
  forgetSelectedJob();
  loadAll();
}

function onForgetKey() {
  keepApiKey("");
  $("api-key").value = "";
  forgetSelectedJob();
  loadAll();
}

function baseName(job) {
  const name = job.original_filename.replace(/\.[^.]*$/, "") || "dub";
  return `${name}.${job.target_language}`;
}

function saveResult(link, suffix) {
  const job = state.selected;
  if (!job) return;
  clearError();
  save(job.links[link], `${baseName(job)}${suffix}`).catch((error) => showError(error.message));
}

// A re-dub was queued from the line editor: follow its progress like any job's.
function onRedubQueued(job) {
  if (!state.selected || state.selected.id !== job.id) return;
  $("job-message").textContent = "Re-dub queued…";
  selectJob(job, { focus: false });
  refreshJobs().catch(() => undefined);
}

function init() {
  editor = new LineEditor({ onRedubQueued, onError: showError });
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", onSaveKey);
  $("forget-key").addEventListener("click", onForgetKey);
  $("alert-close").addEventListener("click", clearError);
  $("upload-form").addEventListener("submit", onUpload);
  $("upload-abort").addEventListener("click", () => state.uploadRequest && state.uploadRequest.abort());
  $("cancel-button").addEventListener("click", onCancel);
  $("download-button").addEventListener("click", () => saveResult("download", ".mp4"));
  $("srt-button").addEventListener("click", () => saveResult("srt", ".srt"));
  $("vtt-button").addEventListener("click", () => saveResult("vtt", ".vtt"));
  $("preview-form").addEventListener("submit", onPreview);
  $("preview-video").addEventListener("error", onPreviewError);
  $("jobs-table").addEventListener("click", onJobsClick);
  $("jobs-refresh").addEventListener("click", () => refreshJobs().catch((error) => showError(error.message)));
  $("jobs-filter").addEventListener("change", () => {
    state.listOffset = 0;
    refreshJobs().catch((error) => showError(error.message));
  });
  $("jobs-newer").addEventListener("click", () => {
    state.listOffset = Math.max(0, state.listOffset - PAGE_SIZE);
    refreshJobs().catch((error) => showError(error.message));
  });
  $("jobs-older").addEventListener("click", () => {
    state.listOffset += PAGE_SIZE;
    refreshJobs().catch((error) => showError(error.message));
  });
  loadAll();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
