// DOM helpers: elements are built with h(), never from HTML strings, so data from the API
// is always text.

/** An element: h('a', {href: '#/'}, 'text', child, [more]). `on*` attributes are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces `el`'s content with `children` (nested lists flattened, null skipped). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Replaces the main view's content. */
export function show(...children) {
  return fill(document.getElementById('view'), ...children);
}

export function statusBadge(status) {
  return h('span', { class: `status ${status}`, 'data-status': status }, status);
}

export function time(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString());
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

export function usd(value) {
  if (value === null || value === undefined) return '';
  return `$${Number(value).toFixed(4)}`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}

/** A table with a header row; rows are arrays of cells. */
export function table(headers, rows, empty = 'Nothing here yet.') {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'striped' },
      h('thead', {}, h('tr', {}, headers.map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell) => h('td', {}, cell)))))));
}

/** An API problem (or any error) as a box naming what went wrong. */
export function problemBox(error) {
  const problem = error?.problem;
  if (!problem) return h('div', { class: 'error-box', role: 'alert' }, String(error?.message ?? error));
  return h('div', { class: 'error-box', role: 'alert' },
    h('strong', {}, problem.title ?? 'Error'), ' ', problem.detail ?? '',
    problem.errors?.length
      ? h('ul', {}, problem.errors.map((e) => h('li', {}, h('code', {}, e.field), ': ', e.message)))
      : null);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
