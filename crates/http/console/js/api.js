// Calls to the REST API with the signed-in user's token.
//
// The tokens live in sessionStorage: they last as long as the tab, are not shared with
// other tabs or sent with any request by the browser itself (so no CSRF), and the page's
// Content-Security-Policy lets no script but the console's own run to read them. An
// expired access token is refreshed once with the refresh token; failing that, the console
// signs out.

const ACCESS = 'overseer.access_token';
const REFRESH = 'overseer.refresh_token';

/** An error answered by the API, with its problem+json body. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function signedIn() {
  return sessionStorage.getItem(ACCESS) !== null;
}

export function keep(tokens) {
  sessionStorage.setItem(ACCESS, tokens.access_token);
  sessionStorage.setItem(REFRESH, tokens.refresh_token);
}

export function forget() {
  sessionStorage.removeItem(ACCESS);
  sessionStorage.removeItem(REFRESH);
}

export function authorization() {
  const token = sessionStorage.getItem(ACCESS);
  return token ? { authorization: `Bearer ${token}` } : {};
}

let refreshing = null;

async function refresh() {
  const token = sessionStorage.getItem(REFRESH);
  if (!token) return false;
  refreshing ??= fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: token }),
  }).then(async (res) => {
    if (!res.ok) return false;
    keep(await res.json());
    return true;
  }).catch(() => false).finally(() => { refreshing = null; });
  return refreshing;
}

/** The raw response of a call, after one refresh on 401; throws ApiError on 4xx/5xx. */
export async function call(method, path, body, extraHeaders = {}) {
  const send = () => fetch(`/api/v1${path}`, {
    method,
    headers: {
      ...authorization(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...extraHeaders,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let res = await send();
  if (res.status === 401 && sessionStorage.getItem(REFRESH) && await refresh()) {
    res = await send();
  }
  if (res.status === 401) {
    forget();
    window.dispatchEvent(new Event('overseer:signed-out'));
  }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, problem);
  }
  return res;
}

/** A call's JSON body (null for 204). */
export async function api(method, path, body) {
  const res = await call(method, path, body);
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') ?? '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});

let me = null;
/** The signed-in user (cached for the page's life). */
export async function currentUser() {
  me ??= get('/auth/me').catch((error) => { me = null; throw error; });
  return me;
}
export function clearCurrentUser() {
  me = null;
}
