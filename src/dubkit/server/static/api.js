// Requests to the server's /api/v1 endpoints: the API key, JSON calls, problem details as readable errors.
//
// An ES module. Every request goes to this page's own origin.

export const API = "/api/v1";
const KEY_STORAGE = "dubkit.apiKey";

export function apiKey() {
  try {
    return (localStorage.getItem(KEY_STORAGE) || "").trim();
  } catch {
    return "";
  }
}

// Keep (or, with an empty key, forget) the API key in this browser; false when the browser refuses.
export function keepApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    return true;
  } catch {
    return false;
  }
}

export function authHeaders() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

export class ApiError extends Error {
  constructor(status, message, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

// A readable sentence from an RFC 9457 problem (or whatever an error body holds).
export function problemMessage(status, bodyText, fallback) {
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
    if (typeof problem.hint === "string" && problem.hint && !String(problem.detail || "").includes(problem.hint)) {
      parts.push(problem.hint);
    }
    if (status === 401) parts.push("Enter your key under “API key” above.");
    return { message: parts.join("\n"), problem };
  }
  if (status === 401) return { message: "This server needs an API key: enter it under “API key” above.", problem: null };
  if (status === 413) return { message: "The file is larger than the server accepts.", problem: null };
  return { message: fallback || `The server answered ${status}.`, problem: null };
}

export async function errorFromResponse(response) {
  const text = await response.text().catch(() => "");
  const { message, problem } = problemMessage(response.status, text, `${response.status} ${response.statusText}`);
  return new ApiError(response.status, message, problem);
}

// Call the API. Options: method, headers, json (a body to send as JSON), raw (return the Response).
export async function request(path, options = {}) {
  const headers = { Accept: "application/json", ...authHeaders(), ...(options.headers || {}) };
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  let response;
  try {
    response = await fetch(path, { method: options.method || "GET", headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, "Cannot reach the server. Is `dubkit serve` still running?", null);
  }
  if (!response.ok) throw await errorFromResponse(response);
  return options.raw ? response : response.json();
}

// A URL a <video> or <audio> element can play. Without an API key: the path itself (the browser streams
// it). With one: the file fetched with the key and played from a blob: URL (an element cannot send
// headers); call `release` when done with it.
export async function playableUrl(path) {
  if (!apiKey()) return { url: path, release: () => {} };
  const response = await request(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  return { url, release: () => URL.revokeObjectURL(url) };
}
