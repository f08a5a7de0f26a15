// Small DOM helpers: elements are built with textContent, never innerHTML, so model names,
// reasons and model outputs can never inject markup.

/** h('div', { class: 'x', onclick }, child, 'text', …) */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `element`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Fetches JSON; a non-2xx answer throws with the server's {"error"} message. */
export async function getJson(url, init) {
  const response = await fetch(url, init);
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}

export const fmt = (value, digits = 3) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : Math.abs(value) >= 100 ? String(Math.round(value)) : String(+value.toPrecision(digits));
