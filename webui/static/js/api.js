// api.js — the JSON API client: the session's CSRF token on every state change, errors as
// ApiError {status, message, field} (the server's {"error","field"}), 401 → back to login.

const BASE = '/api/v1';
let csrfToken = '';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.field = field || '';
    this.retryAfter = retryAfter || 0;
  }
}

export function setCsrf(token) { csrfToken = token || ''; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(BASE + path, init);
  } catch (e) {
    throw new ApiError(0, 'The panel cannot be reached (network error). Try again in a moment.', '');
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await resp.json().catch(() => null) : await resp.text();
  if (resp.ok) return data;
  const msg = (data && data.error) || `The server answered ${resp.status}.`;
  const err = new ApiError(resp.status, msg, data && data.field, Number(resp.headers.get('Retry-After')) || 0);
  if (resp.status === 401 && !quiet401) onUnauthorized(err);
  throw err;
}

// Query string from an object, skipping empty values.
export function qs(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
