// The "try it" panel, built from the model's metadata and configuration: JSON tensors for every
// model; a file picker per bytes input (BYTES, or an image/text codec), sent as a multipart
// upload; a CSV upload for models whose inputs name dataframe columns.
import { fill, getJson, h } from './dom.js';
import { oipResult, plainResult } from './result-view.js';

const NUMERIC = new Set(['UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BF16']);

/** Typed text → flat values: a JSON array (nested or not), or numbers separated by commas, spaces or new lines. */
export function parseValues(text, datatype) {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed).flat(Infinity);
  if (datatype === 'BYTES') return trimmed === '' ? [] : trimmed.split('\n');
  const words = trimmed.split(/[\s,]+/).filter(Boolean);
  if (datatype === 'BOOL') {
    return words.map((w) => {
      if (!/^(true|false|1|0)$/i.test(w)) throw new Error(`"${w}" is not a boolean`);
      return /^(true|1)$/i.test(w);
    });
  }
  return words.map((w) => {
    const n = Number(w);
    if (!Number.isFinite(n)) throw new Error(`"${w}" is not a number`);
    return n;
  });
}

/** The request shape: the batch dimension 1, another variable dimension from the number of values. */
export function shapeFor(metadataShape, count, batched) {
  const shape = metadataShape.map((d, i) => (batched && i === 0 ? 1 : d));
  const known = shape.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const unknown = shape.filter((d) => d < 0).length;
  if (unknown === 0) {
    if (known !== count) throw new Error(`expected ${known} values for shape [${shape.join(', ')}], got ${count}`);
    return shape;
  }
  if (unknown > 1) return shape.map((d, i) => (d < 0 ? (i === shape.lastIndexOf(-1) ? count / known : 1) : d));
  if (count % known !== 0) throw new Error(`${count} values do not fill shape [${metadataShape.join(', ')}]`);
  return shape.map((d) => (d < 0 ? count / known : d));
}

function template(input, batched) {
  const dims = input.shape.map((d, i) => (batched && i === 0 ? 1 : d < 0 ? 1 : d));
  const count = dims.reduce((a, b) => a * b, 1);
  if (input.datatype === 'BYTES') return '';
  if (input.datatype === 'BOOL') return Array(count).fill('false').join(', ');
  return count <= 4096 ? Array(count).fill('0').join(', ') : '';
}

async function timed(run) {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

function jsonPanel(model, metadata, config, out) {
  const batched = (config.max_batch_size ?? 0) > 0;
  const fields = metadata.inputs.map((input) => ({
    input,
    area: h('textarea', { name: input.name, 'data-input': input.name, spellcheck: 'false' }),
  }));
  for (const f of fields) f.area.value = template(f.input, batched);
  const send = async () => {
    fill(out, h('p', { class: 'note' }, 'Running…'));
    try {
      const inputs = fields.map(({ input, area }) => {
        const data = parseValues(area.value, input.datatype);
        if (!NUMERIC.has(input.datatype) && input.datatype !== 'BOOL' && input.datatype !== 'BYTES') throw new Error(`unsupported datatype ${input.datatype}`);
        return { name: input.name, datatype: input.datatype, shape: shapeFor(input.shape, data.length, batched), data };
      });
      const { value, ms } = await timed(() => getJson(`/v2/models/${encodeURIComponent(model)}/infer`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }),
      }));
      fill(out, oipResult(value, ms));
    } catch (error) {
      fill(out, h('p', { class: 'error', role: 'alert' }, error.message));
    }
  };
  return h('div', {},
    fields.map(({ input, area }) => h('div', {},
      h('label', {}, input.name, ' ', h('small', {}, `${input.datatype} [${input.shape.join(', ')}]`, batched ? ' — first dimension is the batch' : '')),
      area)),
    h('div', { class: 'actions' }, h('button', { onclick: send, 'data-action': 'infer-json' }, 'Infer')));
}

function uploadPanel(model, bytesInputs, out) {
  const pickers = bytesInputs.map((input) => ({
    input,
    picker: h('input', { type: 'file', name: input.name, 'data-file-input': input.name, accept: input.image || /image/i.test(input.name) ? 'image/*' : undefined }),
  }));
  const send = async () => {
    const form = new FormData();
    let imageUrl;
    for (const { input, picker } of pickers) {
      const file = picker.files?.[0];
      if (!file) continue;
      form.append(input.name, file, file.name);
      if (file.type.startsWith('image/')) imageUrl ??= URL.createObjectURL(file);
    }
    if ([...form.keys()].length === 0) return fill(out, h('p', { class: 'error', role: 'alert' }, 'Choose a file first.'));
    fill(out, h('p', { class: 'note' }, 'Running…'));
    try {
      const { value, ms } = await timed(() => getJson(`/v2/models/${encodeURIComponent(model)}/infer`, { method: 'POST', body: form }));
      fill(out, plainResult(value, ms, imageUrl));
    } catch (error) {
      fill(out, h('p', { class: 'error', role: 'alert' }, error.message));
    }
  };
  return h('div', {},
    pickers.map(({ input, picker }) => h('div', {}, h('label', {}, input.name, ' ', h('small', {}, input.image ? 'image' : input.data_type)), picker)),
    h('div', { class: 'actions' }, h('button', { onclick: send, 'data-action': 'infer-upload' }, 'Upload and infer')));
}

function csvPanel(model, columns, out) {
  const area = h('textarea', { 'data-csv': true, spellcheck: 'false' });
  area.value = `${columns.join(',')}\n${columns.map(() => '0').join(',')}\n`;
  const picker = h('input', { type: 'file', accept: '.csv,text/csv', 'data-csv-file': true });
  picker.addEventListener('change', async () => {
    const file = picker.files?.[0];
    if (file) area.value = await file.text();
  });
  const send = async () => {
    fill(out, h('p', { class: 'note' }, 'Running…'));
    try {
      const { value, ms } = await timed(() => getJson(`/v2/models/${encodeURIComponent(model)}/infer`, {
        method: 'POST', headers: { 'content-type': 'text/csv' }, body: area.value,
      }));
      fill(out, plainResult(value, ms));
    } catch (error) {
      fill(out, h('p', { class: 'error', role: 'alert' }, error.message));
    }
  };
  return h('div', {},
    h('label', {}, 'CSV file ', h('small', {}, `columns: ${columns.join(', ')}`)), picker,
    h('label', {}, 'or CSV text'), area,
    h('div', { class: 'actions' }, h('button', { onclick: send, 'data-action': 'infer-csv' }, 'Send CSV')));
}

/** The panel for one model; the model must be READY (metadata and config answer). */
export function tryItPanel(model, metadata, config) {
  const out = h('div', { class: 'try-output', 'aria-live': 'polite' });
  const bytesInputs = (config.input ?? []).filter((i) => i.data_type === 'TYPE_STRING' || i.data_type === 'BYTES' || i.image || i.text);
  const columns = (config.input ?? []).flatMap((i) => i.columns ?? []);
  const tabs = [
    bytesInputs.length > 0 && ['Upload a file', () => uploadPanel(model, bytesInputs, out)],
    columns.length > 0 && ['CSV (dataframe)', () => csvPanel(model, columns, out)],
    ['JSON tensors', () => jsonPanel(model, metadata, config, out)],
  ].filter(Boolean);
  const body = h('div', {});
  const buttons = tabs.map(([label, build], i) => h('button', {
    class: i === 0 ? 'active' : undefined,
    'data-tab': label,
    onclick: (event) => {
      buttons.forEach((b) => b.classList.remove('active'));
      event.currentTarget.classList.add('active');
      fill(body, build());
      fill(out);
    },
  }, label));
  fill(body, tabs[0][1]());
  return h('div', {}, h('div', { class: 'tabs' }, buttons), body, out);
}
