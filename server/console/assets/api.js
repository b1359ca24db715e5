// The console's only way to conveyor: /api with the operator's bearer token, kept in sessionStorage.

const KEY = 'conveyor.apiToken';
let token = sessionStorage.getItem(KEY) || '';
let onRefused = () => {};

export const hasToken = () => token !== '';

export function setToken(value) {
  token = value;
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

/** What to do when the token is refused (forget it, show the login). */
export function whenRefused(fn) {
  onRefused = fn;
}

/** Calls /api; resolves the JSON (or text) answer, rejects with conveyor's error message. */
export async function api(path, init = {}) {
  const headers = { authorization: 'Bearer ' + token };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  const res = await fetch('/api' + path, { method: init.method || 'GET', headers, body, credentials: 'same-origin' });
  if (res.status === 401) {
    onRefused();
    throw new Error('the API token was refused');
  }
  const type = res.headers.get('content-type') || '';
  const answer = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new Error((answer && answer.error && answer.error.message) || 'HTTP ' + res.status);
  return answer;
}

/** Every item of a paged list (`{ [name]: [...], next }`), following cursors up to `maxPages`. */
export async function all(path, name, maxPages = 20) {
  const items = [];
  let cursor = '';
  for (let page = 0; page < maxPages; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const answer = await api(path + sep + 'limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    items.push(...answer[name]);
    if (!answer.next) break;
    cursor = answer.next;
  }
  return items;
}

export const post = (path, body) => api(path, { method: 'POST', body: body === undefined ? {} : body });
export const enc = encodeURIComponent;
