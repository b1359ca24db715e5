// Small DOM helpers: every text the console shows goes through textContent, never HTML.

export const $ = (id) => document.getElementById(id);

/** An element with optional text and class. */
export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

/** A button that runs `onClick`. */
export function button(label, onClick, cls) {
  const b = el('button', label, cls);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

/** Replaces a list's items, or shows `empty` when there are none. */
export function fillList(list, items, render, empty) {
  list.replaceChildren(...items.map(render));
  if (items.length === 0) list.append(el('li', empty, 'empty'));
}

export const clock = (at) => new Date(at).toLocaleTimeString();

let toastTimer = null;

/** A short message at the bottom of the screen: what an action did, or why it was refused. */
export function toast(text, isError = false) {
  const t = $('toast');
  t.textContent = text;
  t.className = isError ? 'error' : '';
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), isError ? 8000 : 3000);
}

/** Runs fn at most once per frame-ish burst: many stream messages, one redraw. */
export function coalesce(fn, ms = 150) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}
