// The console's main view: the models (state, versions, reasons; refreshed), and for the chosen
// model its metadata, configuration, live statistics and "try it" panel. Load and unload buttons
// appear only when /console/api/models says this client may use the repository API.
import { fill, getJson, h } from './dom.js';
import { watchStatistics } from './live-stats.js';
import { tryItPanel } from './try-it.js';

const REFRESH_MS = 3000;
const state = { index: undefined, selected: undefined, stopStats: undefined, shownState: undefined };

const $ = (selector) => document.querySelector(selector);

/** Index rows → one entry per model: its versions with their states and reasons. */
function byModel(rows) {
  const models = new Map();
  for (const row of rows) {
    const entry = models.get(row.name) ?? { name: row.name, versions: [] };
    entry.versions.push(row);
    models.set(row.name, entry);
  }
  return [...models.values()];
}

/** The state a model shows: READY when any version is; otherwise its first version's. */
function modelState(model) {
  return model.versions.some((v) => v.state === 'READY') ? 'READY' : model.versions[0]?.state ?? 'UNAVAILABLE';
}

function renderList() {
  const tbody = $('#models tbody');
  fill(tbody, byModel(state.index.models).flatMap((model) => model.versions.map((v, i) => h('tr', {
    'data-model': model.name,
    class: model.name === state.selected ? 'selected' : undefined,
    onclick: () => select(model.name),
  },
  h('td', {}, i === 0 ? model.name : ''),
  h('td', {}, v.version || '–'),
  h('td', {}, h('span', { class: `state-${v.state}` }, v.state), v.reason ? h('div', { class: 'reason' }, v.reason) : '')))));
  fill($('#control-note'), state.index.control
    ? 'Model control is allowed from this browser: load and unload buttons are shown.'
    : 'Model control is off for this browser (it needs --model-control-mode poll or explicit, and loopback or --allow-remote-control).');
  const server = state.index.server;
  fill($('#server-info'), `${server.name} ${server.version} · ${state.index.models.length} model versions`);
}

async function refreshIndex() {
  try {
    state.index = await getJson('/console/api/models');
    renderList();
    const model = byModel(state.index.models).find((m) => m.name === state.selected);
    // A model that changed state (loaded, unloaded, failed) is shown afresh.
    if (model && modelState(model) !== state.shownState) void select(model.name);
  } catch (error) {
    fill($('#server-info'), `server unreachable: ${error.message}`);
  }
}

async function control(model, action) {
  try {
    await getJson(`/v2/repository/models/${encodeURIComponent(model)}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  } catch (error) {
    alert(`${action} ${model} failed: ${error.message}`);
  }
  await refreshIndex();
}

async function select(name) {
  state.stopStats?.();
  state.stopStats = undefined;
  state.selected = name;
  if (location.hash !== `#${encodeURIComponent(name)}`) history.replaceState(null, '', `#${encodeURIComponent(name)}`);
  renderList();
  const model = byModel(state.index.models).find((m) => m.name === name);
  const detail = $('#detail');
  if (!model) return fill(detail, h('p', { class: 'note' }, `No model "${name}".`));
  const modelStateNow = modelState(model);
  state.shownState = modelStateNow;
  const buttons = state.index.control && h('div', { class: 'actions' },
    h('button', { class: 'secondary', 'data-action': 'load', onclick: () => control(name, 'load') }, modelStateNow === 'READY' ? 'Reload' : 'Load'),
    modelStateNow === 'READY' && h('button', { class: 'secondary', 'data-action': 'unload', onclick: () => control(name, 'unload') }, 'Unload'));
  const header = h('div', {},
    h('h2', { 'data-detail': name }, name, ' ', h('span', { class: `state-${modelStateNow}` }, modelStateNow)),
    model.versions.filter((v) => v.reason).map((v) => h('p', { class: 'reason' }, `version ${v.version || '–'}: ${v.reason}`)),
    buttons);
  if (modelStateNow !== 'READY') return fill(detail, header);
  fill(detail, header, h('p', { class: 'note' }, 'Loading…'));
  let metadata;
  let config;
  try {
    [metadata, config] = await Promise.all([getJson(`/v2/models/${encodeURIComponent(name)}`), getJson(`/console/api/models/${encodeURIComponent(name)}/config`)]);
  } catch (error) {
    return fill(detail, header, h('p', { class: 'error' }, error.message));
  }
  if (state.selected !== name) return;
  const statistics = h('div', { id: 'statistics' });
  fill(detail,
    header,
    h('p', { class: 'note' }, `platform ${metadata.platform} · versions ${metadata.versions.join(', ')} · max_batch_size ${config.max_batch_size ?? 0}`),
    h('h3', {}, 'Try it'),
    tryItPanel(name, metadata, config),
    h('h3', {}, 'Live statistics'),
    statistics,
    h('details', {}, h('summary', {}, 'Metadata'), h('pre', { 'data-metadata': true }, JSON.stringify(metadata, null, 2))),
    h('details', {}, h('summary', {}, 'Configuration'), h('pre', { 'data-config': true }, JSON.stringify(config, null, 2))));
  state.stopStats = watchStatistics(statistics, name, state.index.metrics);
}

async function start() {
  await refreshIndex();
  const wanted = decodeURIComponent(location.hash.slice(1));
  const first = wanted || byModel(state.index?.models ?? []).find((m) => modelState(m) === 'READY')?.name;
  if (first) await select(first);
  setInterval(refreshIndex, REFRESH_MS);
}

void start();
