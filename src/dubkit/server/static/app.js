// dubkit's reference web page: plain JavaScript over the /api/v1 endpoints, no build step.
//
// Runs under a strict Content-Security-Policy (default-src 'self'): no inline handlers, no eval, and every
// piece of server or user text enters the page through textContent, never innerHTML.
"use strict";

(() => {
  const API = "/api/v1";
  const KEY_STORAGE = "dubkit.apiKey";
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

  const $ = (id) => {
    const element = document.getElementById(id);
    if (!element) throw new Error(`missing element #${id}`);
    return element;
  };

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
    previewUrl: null, // a blob: URL to revoke
    qualityFor: null, // the job id whose quality table is shown
  };

  // ---------------------------------------------------------------- API key and requests

  function apiKey() {
    try {
      return (localStorage.getItem(KEY_STORAGE) || "").trim();
    } catch {
      return "";
    }
  }

  function authHeaders() {
    const key = apiKey();
    return key ? { "X-API-Key": key } : {};
  }

  class ApiError extends Error {
    constructor(status, message, problem) {
      super(message);
      this.status = status;
      this.problem = problem;
    }
  }

  // A readable sentence from an RFC 9457 problem (or whatever an error body holds).
  function problemMessage(status, bodyText, fallback) {
    let problem = null;
    try {
      problem = JSON.parse(bodyText);
    } catch {
      problem = null;
    }
    if (problem && typeof problem === "object") {
      const title = typeof problem.title === "string" ? problem.title : `Error ${status}`;
      const parts = [problem.detail ? `${title}: ${problem.detail}` : title];
      if (Array.isArray(problem.errors)) {
        for (const error of problem.errors.slice(0, 5)) {
          const where = Array.isArray(error.loc) ? error.loc.filter((p) => p !== "body").join(".") : "";
          parts.push(where ? `${where}: ${error.msg}` : String(error.msg));
        }
      }
      if (Array.isArray(problem.supported) && problem.supported.length) {
        parts.push(`Supported: ${problem.supported.slice(0, 40).join(", ")}`);
      }
      if (typeof problem.hint === "string" && problem.hint) parts.push(problem.hint);
      if (status === 401) parts.push("Enter your key under “API key” above.");
      return { message: parts.join("\n"), problem };
    }
    if (status === 401) return { message: "This server needs an API key: enter it under “API key” above.", problem: null };
    if (status === 413) return { message: "The file is larger than the server accepts.", problem: null };
    return { message: fallback || `The server answered ${status}.`, problem: null };
  }

  async function errorFromResponse(response) {
    const text = await response.text().catch(() => "");
    const { message, problem } = problemMessage(response.status, text, `${response.status} ${response.statusText}`);
    return new ApiError(response.status, message, problem);
  }

  async function request(path, options = {}) {
    let response;
    try {
      response = await fetch(path, {
        method: options.method || "GET",
        headers: { Accept: "application/json", ...authHeaders() },
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "Cannot reach the server. Is `dubkit serve` still running?", null);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return options.raw ? response : response.json();
  }

  // ---------------------------------------------------------------- small helpers

  function clear(element) {
    while (element.firstChild) element.removeChild(element.firstChild);
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function option(select, value, label, disabled = false) {
    const element = document.createElement("option");
    element.value = value;
    element.textContent = label;
    element.disabled = disabled;
    select.appendChild(element);
    return element;
  }

  function megabytes(bytes) {
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  function seconds(value) {
    return Number.isFinite(value) ? value.toFixed(2) : "–";
  }

  function percent(fraction) {
    return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)} %`;
  }

  function showError(message) {
    $("alert-text").textContent = message;
    $("alert").hidden = false;
  }

  function clearError() {
    $("alert").hidden = true;
    $("alert-text").textContent = "";
  }

  function statusLabel(status) {
    return STATUS_LABELS[status] || String(status);
  }

  function jobTitle(job) {
    return `${job.original_filename} (${job.source_language} → ${job.target_language})`;
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

  // The page uploads with tus (resumable, https://tus.io): one POST announces the file and its fields, then
  // PATCHes send it in chunks. A chunk lost to a network error is resumed: HEAD asks the server how much
  // arrived, and the upload goes on from there. (API users may still POST one multipart body to /upload.)
  const TUS_HEADERS = { "Tus-Resumable": "1.0.0" };
  const CHUNK_BYTES = 4 * 1024 * 1024;
  const MAX_RESUMES = 5;
  const MAX_ROOM_WAITS = 20;

  const sleep = (ms, signal) =>
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
    const metadata = Object.entries(fields).map(([name, value]) => `${name} ${base64(value)}`).join(",");
    return { file, metadata };
  }

  function tusFetch(url, method, headers, body, signal) {
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

  // Sends the file; resolves with the created jobs' ids.
  async function tusUpload(file, metadata, signal, onProgress) {
    const created = await tusFetch(`${API}/uploads`, "POST", {
      "Upload-Length": String(file.size),
      "Upload-Metadata": metadata,
    }, undefined, signal);
    if (created.status !== 201) throw await errorFromResponse(created);
    const url = created.headers.get("Location");
    state.uploadUrl = url;
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
      const { url } = await tusUpload(file, metadata, controller.signal, onProgress);
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
      clear($("quality-table").tBodies[0]);
      $("quality-section").hidden = true;
      state.qualityFor = null;
      $("job-message").textContent = "";
    }
    $("job-panel").hidden = false;
    renderJob(job);
    markSelectedRow();
    if (focus) $("job-heading").focus();
    if (TERMINAL.has(job.status)) {
      onFinished(job);
    } else {
      connectSocket(job);
    }
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
    $("cancel-button").disabled = finished;
    $("download-button").disabled = !completed;
    $("srt-button").disabled = !completed;
    $("vtt-button").disabled = !completed;
    $("preview-section").hidden = !completed;
    if (job.status === "uploaded" && !$("job-message").textContent) {
      $("job-message").textContent = "Waiting for a worker…";
    } else if (job.status === "failed") {
      $("job-message").textContent = `Failed: ${job.error_message || "no reason given"}`;
    } else if (job.status === "cancelled") {
      $("job-message").textContent = "Cancelled.";
    } else if (completed) {
      const took = Number.isFinite(job.processing_time_seconds) ? ` in ${job.processing_time_seconds.toFixed(1)} s` : "";
      const size = Number.isFinite(job.output_size) ? ` · ${megabytes(job.output_size)}` : "";
      $("job-message").textContent = `Completed${took}${size}.`;
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
    if (fresh.status === "completed" && state.qualityFor !== fresh.id) {
      loadQuality(fresh).catch((error) => showError(error.message));
    }
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

  // ---------------------------------------------------------------- downloads

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

  async function save(path, fallbackName) {
    clearError();
    if (!apiKey()) {
      // The browser streams the file to disk itself; the server names it (Content-Disposition).
      clickLink(path, "");
      return;
    }
    // A link cannot send the X-API-Key header: fetch the file, then save it from a blob: URL.
    try {
      const response = await request(path, { raw: true });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      clickLink(url, filenameFrom(response, fallbackName));
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      showError(error.message);
    }
  }

  function baseName(job) {
    const name = job.original_filename.replace(/\.[^.]*$/, "") || "dub";
    return `${name}.${job.target_language}`;
  }

  // ---------------------------------------------------------------- preview

  function resetPreview() {
    const video = $("preview-video");
    video.removeAttribute("src");
    video.load();
    if (state.previewUrl) {
      URL.revokeObjectURL(state.previewUrl);
      state.previewUrl = null;
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
    if (!apiKey()) {
      video.src = url.pathname + url.search;
      video.load();
      return;
    }
    try {
      const response = await request(url.pathname + url.search, { raw: true });
      state.previewUrl = URL.createObjectURL(await response.blob());
      video.src = state.previewUrl;
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

  // ---------------------------------------------------------------- quality table

  async function loadQuality(job) {
    const project = await request(job.links.project);
    if (!state.selected || state.selected.id !== job.id) return;
    state.qualityFor = job.id;
    const body = $("quality-table").tBodies[0];
    clear(body);
    const segments = Array.isArray(project.segments) ? project.segments : [];
    let flagged = 0;
    let failed = 0;
    segments.forEach((segment, index) => {
      const quality = segment.quality || {};
      const flags = Array.isArray(quality.flags) ? quality.flags : [];
      const row = document.createElement("tr");
      if (segment.status === "failed") {
        row.className = "failed";
        failed += 1;
      } else if (flags.length) {
        row.className = "flagged";
        flagged += 1;
      }
      cell(row, String(index + 1), "num");
      cell(row, seconds(segment.start), "num");
      cell(row, seconds(segment.end), "num");
      cell(row, segment.speaker || "");
      cell(row, segment.source_text || "");
      const spoken = segment.timing && segment.timing.spoken && segment.timing.spoken !== segment.translation;
      cell(row, spoken ? `${segment.translation} (spoken: ${segment.timing.spoken})` : segment.translation || "");
      cell(row, Number.isFinite(quality.stretch) ? `${quality.stretch.toFixed(2)}×` : "–", "num");
      cell(row, Number.isFinite(quality.start_offset) ? `${quality.start_offset >= 0 ? "+" : ""}${quality.start_offset.toFixed(2)} s` : "–", "num");
      cell(row, Number.isFinite(quality.back_wer) ? percent(quality.back_wer) : "–", "num");
      const notes = flags.slice();
      if (segment.status && segment.status !== "ok") notes.push(segment.error ? `${segment.status}: ${segment.error}` : segment.status);
      cell(row, notes.join(", "));
      body.appendChild(row);
    });
    const loudness = project.quality && Number.isFinite(project.quality.loudness_lufs) ? ` Loudness ${project.quality.loudness_lufs.toFixed(1)} LUFS.` : "";
    $("quality-summary").textContent = `${segments.length} line${segments.length === 1 ? "" : "s"}, ${flagged} flagged, ${failed} failed.${loudness}`;
    $("quality-section").hidden = false;
    const duration = project.source && Number.isFinite(project.source.duration) ? project.source.duration : null;
    if (duration) {
      $("preview-start").max = String(duration);
      $("preview-end").max = String(duration);
      $("preview-end").value = String(Math.min(duration, 10).toFixed(1));
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
    state.selected = null;
    state.qualityFor = null;
    state.listOffset = 0;
    clear($("quality-table").tBodies[0]);
    $("job-panel").hidden = true;
  }

  function onSaveKey(event) {
    event.preventDefault();
    try {
      localStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    } catch {
      showError("This browser does not let the page keep the key.");
    }
    forgetSelectedJob();
    loadAll();
  }

  function onForgetKey() {
    try {
      localStorage.removeItem(KEY_STORAGE);
    } catch {
      /* nothing kept */
    }
    $("api-key").value = "";
    forgetSelectedJob();
    loadAll();
  }

  function init() {
    $("api-key").value = apiKey();
    $("key-form").addEventListener("submit", onSaveKey);
    $("forget-key").addEventListener("click", onForgetKey);
    $("alert-close").addEventListener("click", clearError);
    $("upload-form").addEventListener("submit", onUpload);
    $("upload-abort").addEventListener("click", () => state.uploadRequest && state.uploadRequest.abort());
    $("cancel-button").addEventListener("click", onCancel);
    $("download-button").addEventListener("click", () => state.selected && save(state.selected.links.download, `${baseName(state.selected)}.mp4`));
    $("srt-button").addEventListener("click", () => state.selected && save(state.selected.links.srt, `${baseName(state.selected)}.srt`));
    $("vtt-button").addEventListener("click", () => state.selected && save(state.selected.links.vtt, `${baseName(state.selected)}.vtt`));
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
})();
