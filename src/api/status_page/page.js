// The status page's script: polls the admin API's JSON routes (the session
// cookie authorizes these GETs) every two seconds and redraws the page in
// place; it never reloads. Text is set with textContent only: no value from
// the server is ever parsed as HTML.
'use strict';

// When this document was loaded: a reload would change it (the browser test
// checks it does not).
window.__loadedAt = Date.now();

const POLL_MS = 2000;
const CONTACT_STATES = ['pending', 'in_flight', 'waiting_retry', 'done', 'exhausted', 'stopped', 'suppressed'];
const FINISHED = ['done', 'exhausted', 'stopped', 'suppressed'];
const RATES = [['contact', 'contact'], ['right_party', 'right party'], ['promise_to_pay', 'promise to pay']];
const cards = new Map();

class SessionExpired extends Error {}

async function getJson(path) {
  const r = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (r.status === 401) throw new SessionExpired();
  if (!r.ok) {
    let why = `HTTP ${r.status}`;
    try { why = (await r.json()).error || why; } catch (_) { /* not JSON */ }
    throw new Error(`${path}: ${why}`);
  }
  return r.json();
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// A number shown with separators, its raw value kept in data-value.
function setNumber(e, n) {
  e.dataset.value = String(n);
  e.textContent = Number(n).toLocaleString('en-US');
}

function pct(v) {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`;
}

function when(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  const mins = Math.round((t - Date.now()) / 60000);
  const clock = t.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  const day = t.toDateString() === new Date().toDateString() ? '' : `${t.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} `;
  if (Math.abs(mins) < 1) return `${day}${clock} (now)`;
  const rel = Math.abs(mins) < 120 ? `${Math.abs(mins)} min` : `${Math.round(Math.abs(mins) / 60)} h`;
  return `${day}${clock} (${mins > 0 ? 'in ' + rel : rel + ' ago'})`;
}

function meter(container, used, cap) {
  let fill = container.firstElementChild;
  if (!fill) { fill = el('div', { class: 'fill' }); container.append(fill); }
  const share = cap ? Math.min(used / cap, 1) : 0;
  fill.style.width = `${share * 100}%`;
  container.classList.toggle('full', cap > 0 && used >= cap);
  container.title = `${used} of ${cap ?? '?'}`;
}

function field(root, name) {
  return root.querySelector(`[data-field="${name}"]`);
}

function part(root, name) {
  return root.querySelector(`[data-part="${name}"]`);
}

function newCard(name) {
  const card = document.getElementById('campaign-card').content.firstElementChild.cloneNode(true);
  card.dataset.campaign = name;
  field(card, 'name').textContent = name;
  const bar = part(card, 'bar');
  const states = part(card, 'states');
  for (const s of CONTACT_STATES) {
    bar.append(el('div', { class: `seg seg-${s}`, 'data-state': s }));
    states.append(el('div', { class: 'state' },
      el('dt', {}, el('span', { class: `swatch seg-${s}` }), s.replace('_', ' ')),
      el('dd', { class: 'num', 'data-field': `contacts.${s}` })));
  }
  const rates = part(card, 'rates');
  for (const [key, label] of RATES) {
    rates.append(el('dt', {}, label), el('dd', { class: 'num', 'data-field': `rates.${key}` }));
  }
  return card;
}

function drawCard(card, s) {
  const state = field(card, 'state');
  state.textContent = s.state;
  state.className = `badge state-${s.state}`;
  const win = field(card, 'window');
  win.textContent = s.window.open ? 'window open' : 'window closed';
  win.className = `badge ${s.window.open ? 'ok' : 'warn'}`;
  win.dataset.value = String(s.window.open);

  const total = s.contacts.total;
  const finished = FINISHED.reduce((n, k) => n + (s.contacts.by_state[k] || 0), 0);
  setNumber(field(card, 'contacts.total'), total);
  setNumber(field(card, 'finished'), finished);
  field(card, 'percent').textContent = total ? `${Math.floor((finished / total) * 100)}%` : '—';
  for (const seg of part(card, 'bar').children) {
    const n = s.contacts.by_state[seg.dataset.state] || 0;
    seg.style.width = total ? `${(n / total) * 100}%` : '0';
    seg.title = `${seg.dataset.state}: ${n}`;
  }
  for (const k of CONTACT_STATES) setNumber(field(card, `contacts.${k}`), s.contacts.by_state[k] || 0);

  drawBars(part(card, 'outcomes'), s.attempts.by_disposition, 'outcome');
  drawBars(part(card, 'intents'), s.attempts.by_intent, 'intent');

  setNumber(field(card, 'in_flight'), s.in_flight.total);
  field(card, 'in_flight').textContent += ` / ${s.in_flight.campaign_cap}`;
  meter(part(card, 'campaign-meter'), s.in_flight.total, s.in_flight.campaign_cap);
  const vendors = part(card, 'vendor-meters');
  vendors.replaceChildren(...s.in_flight.vendors.map((v) => {
    const m = el('div', { class: 'meter' });
    meter(m, v.in_flight_all_campaigns, v.max_concurrency);
    const text = el('span', { class: 'num', 'data-field': `vendor.${v.id}.in_flight` },
      `${v.in_flight} here · ${v.in_flight_all_campaigns} / ${v.max_concurrency ?? '?'}`);
    text.dataset.value = String(v.in_flight);
    text.title = 'this campaign · all campaigns / vendor cap';
    return el('div', { class: 'meter-row' }, el('span', {}, v.id), m, text);
  }));

  for (const [key] of RATES) {
    const r = s.rates[key];
    const e = field(card, `rates.${key}`);
    e.textContent = pct(r.value);
    e.title = `${r.numerator} / ${r.denominator}`;
  }
  setNumber(field(card, 'attempts.total'), s.attempts.total);
  field(card, 'next_opening').textContent = s.window.open
    ? (s.window.closes_at ? `closes ${when(s.window.closes_at)}` : 'always open')
    : (s.window.next_opening ? `opens ${when(s.window.next_opening)}` : 'never opens again');
  field(card, 'eta').textContent = s.eta.at && s.eta.reason !== 'finished'
    ? when(s.eta.at) : (s.eta.reason || '—').replaceAll('_', ' ');
}

// A horizontal bar per non-zero count, longest first; `kind` names the
// counts (`outcome`, `intent`) in data-field and in the bars' colour class.
function drawBars(chart, counts, kind) {
  const rows = Object.entries(counts).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  if (!rows.length) {
    chart.replaceChildren(el('p', { class: 'muted' }, 'No results yet.'));
    return;
  }
  const max = rows[0][1];
  chart.replaceChildren(...rows.map(([d, n]) => {
    const fill = el('div', { class: `fill ${kind}-${d}` });
    fill.style.width = `${(n / max) * 100}%`;
    const count = el('span', { class: 'num', 'data-field': `${kind}.${d}` });
    setNumber(count, n);
    return el('div', { class: 'chart-row' }, el('span', { class: 'label' }, d.replaceAll('_', ' ')),
      el('div', { class: 'track' }, fill), count);
  }));
}

function drawCampaigns(all) {
  const box = document.getElementById('campaigns');
  if (!all.length) {
    box.replaceChildren(el('p', { class: 'muted' }, 'No campaigns.'));
    cards.clear();
    return;
  }
  for (const name of [...cards.keys()]) {
    if (!all.some((s) => s.name === name)) cards.delete(name);
  }
  for (const s of all) {
    if (!cards.has(s.name)) cards.set(s.name, newCard(s.name));
    drawCard(cards.get(s.name), s);
  }
  box.replaceChildren(...all.map((s) => cards.get(s.name)));
}

function drawVendors(vendors) {
  document.getElementById('vendors').replaceChildren(...vendors.map((v) => {
    const m = el('div', { class: 'meter' });
    meter(m, v.in_flight, v.max_concurrency);
    const count = el('span', { class: 'num', 'data-field': 'in_flight' });
    setNumber(count, v.in_flight);
    const circuit = v.circuit_open
      ? el('span', { class: 'badge bad', 'data-field': 'circuit', title: v.circuit_open }, `open: ${v.circuit_open}`)
      : el('span', { class: 'badge ok', 'data-field': 'circuit' }, 'closed');
    const used = el('span', { class: 'num' }, count, ` / ${v.max_concurrency}`);
    return el('tr', { 'data-vendor': v.id }, el('td', {}, v.id), el('td', { class: 'muted' }, v.kind),
      el('td', {}, el('div', { class: 'meter-row' }, m, used)), el('td', {}, circuit));
  }));
}

function drawScorecard(vendors) {
  const num = (n) => el('td', { class: 'num' }, n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));
  document.getElementById('scorecard').replaceChildren(...vendors.map((v) => {
    const errors = Object.entries(v.errors_by_code).map(([code, n]) => `${code}: ${n}`).join(', ') || '—';
    const secs = (s) => (s === null || s === undefined ? '—' : `${s.toFixed(1)} s`);
    const talk = secs(v.average_talk_seconds);
    const ring = `${secs(v.ring_p50_seconds)} / ${secs(v.ring_average_seconds)}`;
    const lag = `${secs(v.callback_lag_p50_seconds)} / ${secs(v.callback_lag_p95_seconds)}`;
    // One line per currency (a vendor normally bills in one).
    const money = (pick) => v.costs.map((c) => (pick(c) === null ? '—' : `${pick(c)} ${c.currency}`)).join(', ') || '—';
    const cell = (field, text) => el('td', { class: 'num', 'data-field': field }, text);
    return el('tr', { 'data-vendor': v.id }, el('td', {}, v.id), num(v.attempts), num(v.dials), num(v.completed),
      el('td', { class: 'num' }, pct(v.connect_rate)), el('td', { class: 'num' }, pct(v.conversation_rate)),
      el('td', { class: 'num' }, talk), cell('ring', ring), cell('lag', lag), cell('cost', money((c) => c.total)),
      cell('per-reached', money((c) => c.per_reached_contact)), cell('per-promise', money((c) => c.per_promise)),
      el('td', { class: 'muted' }, errors));
  }));
}

function drawRejected(callbacks) {
  const body = document.getElementById('rejected');
  if (!callbacks.length) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'None.')));
    return;
  }
  body.replaceChildren(...callbacks.map((c) => el('tr', { 'data-rejected': String(c.id) },
    el('td', {}, when(c.received_at)), el('td', {}, c.vendor_id), el('td', { class: 'muted' }, c.remote_addr || '—'),
    el('td', { class: 'why' }, c.error || '—'))));
}

function showProblem(text) {
  const p = document.getElementById('problem');
  p.hidden = !text;
  p.textContent = text || '';
  document.getElementById('live').classList.toggle('stale', Boolean(text));
}

async function refresh() {
  try {
    const [list, vendors, scorecard, rejected] = await Promise.all([
      getJson('/api/v1/campaigns'),
      getJson('/api/v1/vendors'),
      getJson('/api/v1/vendors/scorecard'),
      getJson('/api/v1/callbacks/rejected?limit=8'),
    ]);
    const stats = await Promise.all(list.campaigns.map(
      (c) => getJson(`/api/v1/campaigns/${encodeURIComponent(c.name)}/stats`)));
    drawCampaigns(stats);
    drawVendors(vendors.vendors);
    drawScorecard(scorecard.vendors);
    drawRejected(rejected.callbacks);
    document.getElementById('updated').textContent =
      `live · updated ${new Date().toLocaleTimeString('en-GB')}`;
    showProblem(null);
  } catch (e) {
    showProblem(e instanceof SessionExpired
      ? 'The session has ended (expired, or the token changed): reload the page to log in again.'
      : `Could not refresh: ${e.message}`);
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

refresh();
