// Small DOM and formatting helpers. Text enters the page through textContent only, never innerHTML.

export const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing element #${id}`);
  return element;
};

export function clear(element) {
  while (element.firstChild) element.removeChild(element.firstChild);
}

export function el(tag, { text, className, attrs } = {}) {
  const element = document.createElement(tag);
  if (text !== undefined) element.textContent = text;
  if (className) element.className = className;
  for (const [name, value] of Object.entries(attrs || {})) element.setAttribute(name, value);
  return element;
}

export function cell(row, text, className) {
  const td = el("td", { text, className });
  row.appendChild(td);
  return td;
}

export function option(select, value, label, disabled = false) {
  const element = el("option", { text: label });
  element.value = value;
  element.disabled = disabled;
  select.appendChild(element);
  return element;
}

export function button(label, { className, aria, onClick } = {}) {
  const element = el("button", { text: label, className });
  element.type = "button";
  if (aria) element.setAttribute("aria-label", aria);
  if (onClick) element.addEventListener("click", onClick);
  return element;
}

export function megabytes(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function seconds(value) {
  return Number.isFinite(value) ? value.toFixed(2) : "–";
}

export function percent(fraction) {
  return `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)} %`;
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
