// How answers are shown: OIP responses as one block per output; plain JSON answers (uploads,
// dataframes) as JSON, and recognised text lines with boxes ({"lines": [{text, box}]}, the ocr
// model's answer) drawn over the uploaded image.
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const MAX_SHOWN = 2000;

function preview(data) {
  const text = JSON.stringify(data);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)} … (${text.length} characters)` : text;
}

export function oipResult(response, elapsedMs) {
  return h('div', { class: 'result' },
    h('p', { class: 'note' }, `Answered by ${response.model_name} version ${response.model_version ?? '?'} in ${elapsedMs.toFixed(1)} ms.`),
    h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'output'), h('th', {}, 'datatype'), h('th', {}, 'shape'), h('th', {}, 'data'))),
      h('tbody', {}, response.outputs.map((o) => h('tr', {},
        h('td', {}, o.name), h('td', {}, o.datatype), h('td', {}, `[${o.shape.join(', ')}]`),
        h('td', {}, h('pre', { 'data-output': o.name }, preview(o.data))))))));
}

function isBox(box) {
  return Array.isArray(box) && box.length >= 3 && box.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite));
}

/** The uploaded image with each line's box and text over it; `imageUrl` is a blob: URL. */
function linesOverImage(lines, imageUrl) {
  const img = h('img', { src: imageUrl, alt: 'uploaded image' });
  const overlay = document.createElementNS(SVG, 'svg');
  overlay.setAttribute('preserveAspectRatio', 'none');
  img.addEventListener('load', () => {
    overlay.setAttribute('viewBox', `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
    for (const line of lines) {
      if (!isBox(line.box)) continue;
      const polygon = document.createElementNS(SVG, 'polygon');
      polygon.setAttribute('points', line.box.map(([x, y]) => `${x},${y}`).join(' '));
      polygon.setAttribute('fill', 'rgba(31,111,235,0.12)');
      polygon.setAttribute('stroke', '#1f6feb');
      polygon.setAttribute('stroke-width', String(Math.max(1, img.naturalWidth / 400)));
      const title = document.createElementNS(SVG, 'title');
      title.textContent = line.text;
      polygon.append(title);
      overlay.append(polygon);
    }
  });
  return h('div', { class: 'image-result' }, img, overlay);
}

export function plainResult(answer, elapsedMs, imageUrl) {
  const lines = Array.isArray(answer?.lines) && answer.lines.every((l) => typeof l?.text === 'string') ? answer.lines : undefined;
  return h('div', { class: 'result' },
    h('p', { class: 'note' }, `Answered in ${elapsedMs.toFixed(1)} ms.`),
    lines && imageUrl && linesOverImage(lines, imageUrl),
    lines && h('h3', {}, `Recognised lines (${lines.length})`),
    lines && h('ol', { class: 'lines' }, lines.map((l) => h('li', { 'data-line': true }, l.text,
      typeof l.confidence === 'number' ? h('small', { class: 'note' }, ` (${(l.confidence * 100).toFixed(0)}%)`) : ''))),
    h('pre', { 'data-answer': true }, preview(answer)));
}
