// raft-vertx web UI: one GET for the first picture, then updates pushed over server-sent events.
// Rendering is batched into animation frames, so bursts of updates never block the page.
'use strict';

(() => {
  const TOKEN_KEY = 'raft-admin-token';
  const MAX_TIMELINE_ROWS = 200;

  const state = {
    nodes: new Map(),       // id -> view from the server
    cluster: {},
    timeline: [],           // oldest first
    lastSeq: 0,
    series: [],             // one point per second
    admin: { tokenConfigured: false, nodeControl: false },
    options: { historySeconds: 300, proposeHint: 'command' },
    lastUpdate: 0,
  };
  const dirty = { nodes: new Set(), cluster: false, timeline: [], plots: false, admin: false, all: false };
  let frameRequested = false;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  // ---------------------------------------------------------------- admin token

  function readTokenFromHash() {
    const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

  async function adminPost(path, body, method) {
    const headers = { 'Authorization': 'Bearer ' + token() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method: method || 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let json = {};
    try { json = await r.json(); } catch (e) { json = { error: 'HTTP ' + r.status }; }
    if (r.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      dirty.admin = true; schedule();
    }
    if (!r.ok) throw new Error(json.error || ('HTTP ' + r.status));
    return json;
  }

  // ---------------------------------------------------------------- data in

  function applySnapshot(s) {
    state.nodes = new Map(s.nodes.map((n) => [n.id, n]));
    state.cluster = s.cluster || {};
    state.timeline = s.timeline || [];
    state.lastSeq = state.timeline.length ? state.timeline[state.timeline.length - 1].seq : 0;
    state.series = s.series || [];
    state.admin = s.admin || state.admin;
    state.options = Object.assign(state.options, s.options || {});
    state.lastUpdate = s.time;
    dirty.all = true;
    schedule();
  }

  function applyUpdate(u) {
    for (const n of u.nodes || []) {
      state.nodes.set(n.id, n);
      dirty.nodes.add(n.id);
    }
    if (u.cluster) { state.cluster = u.cluster; dirty.cluster = true; }
    if (u.admin) { state.admin = u.admin; dirty.admin = true; }
    for (const t of u.timeline || []) {
      if (t.seq > state.lastSeq) {
        state.timeline.push(t);
        dirty.timeline.push(t);
        state.lastSeq = t.seq;
      }
    }
    if (state.timeline.length > 1000) state.timeline.splice(0, state.timeline.length - 1000);
    const lastT = state.series.length ? state.series[state.series.length - 1].time : 0;
    for (const p of u.series || []) {
      if (p.time > lastT) { state.series.push(p); dirty.plots = true; }
    }
    const keep = state.options.historySeconds || 300;
    if (state.series.length > keep) state.series.splice(0, state.series.length - keep);
    state.lastUpdate = u.time;
    schedule();
  }

  function connect() {
    const conn = $('conn');
    const es = new EventSource('api/events');
    es.addEventListener('open', () => { conn.dataset.state = 'live'; conn.textContent = 'live'; });
    es.addEventListener('error', () => { conn.dataset.state = 'down'; conn.textContent = 'reconnecting…'; });
    es.addEventListener('snapshot', (e) => applySnapshot(JSON.parse(e.data)));
    es.addEventListener('update', (e) => applyUpdate(JSON.parse(e.data)));
  }

  // ---------------------------------------------------------------- rendering

  function schedule() {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(render);
    }
  }

  function render() {
    frameRequested = false;
    if (dirty.all) {
      renderAllNodes();
      renderTimeline(true);
      renderPlots();
      renderAdmin();
      renderCluster();
    } else {
      for (const id of dirty.nodes) renderNode(id);
      if (dirty.nodes.size) renderProposeTargets();
      if (dirty.timeline.length) renderTimeline(false);
      if (dirty.plots) renderPlots();
      if (dirty.admin) { renderAdmin(); for (const id of state.nodes.keys()) renderNode(id); }
      if (dirty.cluster) {
        renderCluster();
        for (const id of state.nodes.keys()) if (!dirty.nodes.has(id)) renderNode(id);
      }
    }
    dirty.all = false; dirty.nodes.clear(); dirty.timeline = []; dirty.plots = false;
    dirty.admin = false; dirty.cluster = false;
    $('last-update').textContent = state.lastUpdate ? 'updated ' + clock(state.lastUpdate) : '';
  }

  function renderCluster() {
    const c = state.cluster;
    $('cluster-leader').textContent = c.leader || 'none';
    $('cluster-term').textContent = c.term ?? '…';
    $('cluster-commit').textContent = c.commitIndex ?? '…';
    const conf = c.configuration || {};
    $('cluster-voters').textContent = (conf.voters || []).join(' ') || '—';
    $('cluster-learners').textContent = (conf.learners || []).join(' ') || '—';
    $('cluster-joint').textContent = conf.joint
      ? 'yes (old: ' + (conf.outgoingVoters || []).join(' ') + ')' : 'no';
  }

  function renderAllNodes() {
    const box = $('nodes');
    const ids = [...state.nodes.keys()].sort();
    for (const card of [...box.children]) {
      if (!state.nodes.has(card.dataset.node)) card.remove();
    }
    for (const id of ids) renderNode(id);
    renderProposeTargets();
    $('nodes-empty').hidden = ids.length > 0;
  }

  function cardFor(id) {
    let card = document.querySelector('.node[data-node="' + CSS.escape(id) + '"]');
    if (!card) {
      card = el('article', 'node');
      card.dataset.node = id;
      const box = $('nodes');
      const after = [...box.children].find((c) => c.dataset.node > id);
      box.insertBefore(card, after || null);
      $('nodes-empty').hidden = true;
    }
    return card;
  }

  function termColor(term, light) {
    const hue = (term * 137.508) % 360;
    return 'hsl(' + hue.toFixed(0) + ', 65%, ' + (light ? '82%' : '40%') + ')';
  }

  function renderNode(id) {
    const n = state.nodes.get(id);
    if (!n) return;
    const card = cardFor(id);
    const running = n.state === 'running';
    card.dataset.state = n.state;
    card.dataset.role = running ? (n.role || '') : n.state;
    card.dataset.term = n.term ?? '';
    card.dataset.leader = n.leaderId || '';

    // The header stays in place (buttons keep working under a stream of updates); the body is
    // rebuilt.
    let parts = card.raftParts;
    if (!parts) {
      parts = { head: el('header'), role: el('span', 'role'), badges: el('span'), actions: el('div', 'actions'),
        body: el('div', 'body'), sig: null };
      parts.head.append(el('h2', null, id), parts.role, parts.badges, parts.actions);
      card.append(parts.head, parts.body);
      card.raftParts = parts;
    }
    parts.role.textContent = running ? n.role : n.state;
    const badges = [];
    if (n.partitioned) badges.push(el('span', 'badge', 'partitioned'));
    if (n.error) badges.push(el('span', 'badge halted', 'halted'));
    const member = membership(id);
    if (member === 'learner') badges.push(el('span', 'badge learner', 'learner'));
    if (member === 'none') badges.push(el('span', 'badge', 'not a member'));
    parts.badges.replaceChildren(...badges);
    const sig = [n.state, n.role, n.partitioned, n.faults, !!token(), state.admin.tokenConfigured,
      state.admin.nodeControl, membership(id), !!state.cluster.leader].join();
    if (sig !== parts.sig) {
      const fresh = actionsFor(n);
      parts.actions.replaceWith(fresh);
      parts.actions = fresh;
      parts.sig = sig;
    }
    const body = parts.body;
    body.replaceChildren();

    if (n.state === 'remote') {
      body.append(el('p', 'muted', 'A member running in another process.'));
      return;
    }
    const facts = el('dl', 'facts');
    const fact = (k, v) => { facts.append(el('dt', null, k), el('dd', null, v)); };
    fact('term', n.term ?? '—');
    fact('voted for', n.votedFor || '—');
    fact('leader', n.leaderId || '—');
    fact('commit', n.commitIndex ?? '—');
    fact('applied', n.lastApplied ?? '—');
    fact('last index', n.lastIndex ?? '—');
    fact('log', n.logEntries === undefined ? '—' : n.logEntries + ' · ' + bytes(n.logBytes));
    fact('snapshot', n.snapshotIndex ?? 0);
    body.append(facts);
    if (n.error) body.append(el('p', 'badge halted', n.error));

    const tail = n.tail || [];
    const cap = el('div', 'log-caption');
    cap.append(el('span', null, 'log tail (' + tail.length + ' newest)'),
      el('span', null, 'dashed = not committed'));
    body.append(cap);
    const logBox = el('div', 'log');
    logBox.setAttribute('aria-label', 'log of ' + id);
    const frag = document.createDocumentFragment();
    for (const e of tail) {
      const committed = e.i <= (n.commitIndex ?? 0);
      const box = el('span', 'entry kind-' + e.k + (committed ? ' committed' : ' uncommitted'));
      box.dataset.index = e.i;
      box.dataset.term = e.t;
      box.dataset.committed = committed;
      box.dataset.label = e.x;
      box.title = '#' + e.i + ' · term ' + e.t + ' · ' + (committed ? 'committed' : 'not committed') + '\n' + e.x;
      box.style.backgroundColor = termColor(e.t, true);
      box.style.borderColor = termColor(e.t, false);
      box.append(document.createTextNode(e.i), el('small', null, 't' + e.t));
      frag.append(box);
    }
    logBox.append(frag);
    body.append(logBox);

    if (running && n.role === 'leader' && n.matchIndex && Object.keys(n.matchIndex).length) {
      body.append(progressTable(n));
    }
    const c = n.counters;
    if (c) {
      body.append(el('div', 'counters', 'elections started ' + c.electionsStarted + ', won ' + c.electionsWon
        + ' · proposals ' + c.proposalsCommitted + ' ok, ' + c.proposalsFailed + ' failed'
        + ' · AppendEntries sent ' + c.appendEntriesSent + ', rejected ' + c.appendEntriesRejected));
    }
  }

  function progressTable(n) {
    const t = el('table', 'progress');
    const head = el('tr');
    for (const h of ['follower', 'match', 'next', 'behind', '']) head.append(el('th', null, h));
    t.append(head);
    const followers = Object.keys(n.matchIndex).sort();
    const maxLag = Math.max(1, ...followers.map((f) => n.lastIndex - n.matchIndex[f]));
    for (const f of followers) {
      const match = n.matchIndex[f];
      const lag = Math.max(0, n.lastIndex - match);
      const tr = el('tr');
      tr.dataset.follower = f;
      tr.append(el('td', null, f), el('td', null, match), el('td', null, (n.nextIndex || {})[f] ?? '—'),
        el('td', null, lag));
      const bar = el('div', 'lagbar');
      const fill = el('span');
      fill.style.width = (100 * lag / maxLag).toFixed(0) + '%';
      bar.append(fill);
      const td = el('td');
      td.append(bar);
      tr.append(td);
      t.append(tr);
    }
    return t;
  }

  function membership(id) {
    const conf = state.cluster.configuration || {};
    if ((conf.voters || []).includes(id) || (conf.outgoingVoters || []).includes(id)) return 'voter';
    if ((conf.learners || []).includes(id)) return 'learner';
    return conf.voters ? 'none' : 'unknown';
  }

  function actionsFor(n) {
    const box = el('div', 'actions');
    if (!state.admin.tokenConfigured || n.state === 'remote') return box;
    const locked = !token();
    const button = (label, action, cls) => {
      const b = el('button', cls, label);
      b.type = 'button';
      b.dataset.action = action;
      b.dataset.node = n.id;
      b.disabled = locked;
      if (locked) b.title = 'unlock admin with the token first';
      b.addEventListener('click', () => act(b, n.id, action));
      box.append(b);
    };
    if (state.admin.nodeControl) {
      if (n.state === 'running') button('Stop', 'stop', 'danger');
      else if (n.state === 'stopped') button('Restart', 'start');
    }
    if (n.state === 'running' && n.faults) {
      if (n.partitioned) button('Heal', 'heal');
      else button('Partition', 'partition');
    }
    const member = membership(n.id);
    if (n.state === 'running' && member === 'voter' && n.role === 'follower' && state.cluster.leader) {
      button('Make leader', 'transfer');
    }
    if (member === 'voter' || member === 'learner') button('Remove', 'remove', 'danger');
    return box;
  }

  async function act(button, id, action) {
    button.disabled = true;
    const out = $('propose-result');
    try {
      if (action === 'transfer') await adminPost('api/cluster/leader', { id });
      else if (action === 'remove') await adminPost('api/cluster/members/' + encodeURIComponent(id), undefined, 'DELETE');
      else await adminPost('api/nodes/' + encodeURIComponent(id) + '/' + action);
      out.dataset.ok = 'true';
      out.textContent = id + ': ' + action + ' done';
    } catch (e) {
      out.dataset.ok = 'false';
      out.textContent = id + ': ' + action + ' failed: ' + e.message;
      button.disabled = false;
    }
  }

  function renderProposeTargets() {
    const sel = $('propose-node');
    const current = sel.value;
    const ids = [...state.nodes.values()].filter((n) => n.state === 'running').map((n) => n.id).sort();
    const have = [...sel.options].slice(1).map((o) => o.value);
    if (have.join() === ids.join()) return;
    sel.replaceChildren(new Option('via leader', ''));
    for (const id of ids) sel.append(new Option('via ' + id, id));
    sel.value = ids.includes(current) ? current : '';
  }

  function renderAdmin() {
    const a = state.admin;
    const unlocked = !!token();
    $('admin-panel').hidden = !a.tokenConfigured;
    $('admin-state').textContent = unlocked ? 'Admin unlocked for this tab.'
      : 'Actions need the admin token printed at start-up.';
    $('token-form').hidden = unlocked;
    $('propose-value').placeholder = state.options.proposeHint || 'command';
    for (const id of ['propose-value', 'propose-node', 'propose-btn', 'add-id', 'add-role', 'add-btn']) $(id).disabled = !unlocked;
  }

  function timelineText(t) {
    switch (t.type) {
      case 'role': return 'became ' + t.role.replace('_', '-') + ' (term ' + t.term + ')';
      case 'term': return 'moved to term ' + t.term + ' as ' + t.role;
      case 'leader':
        if (t.leader === t.node) return 'leads term ' + t.term;
        return t.leader ? 'follows ' + t.leader + ' (term ' + t.term + ')' : 'lost its leader (term ' + t.term + ')';
      case 'action': return t.text;
      default: return t.type;
    }
  }

  function timelineRow(t) {
    const li = el('li');
    li.dataset.type = t.type;
    if (t.role) li.dataset.role = t.role;
    const time = el('time', null, clock(t.time));
    time.dateTime = new Date(t.time).toISOString();
    li.append(time, el('span', 'who', t.node), el('span', null, timelineText(t)));
    return li;
  }

  function renderTimeline(full) {
    const list = $('timeline');
    const items = full ? state.timeline.slice(-MAX_TIMELINE_ROWS) : dirty.timeline;
    if (full) list.replaceChildren();
    const frag = document.createDocumentFragment();
    for (let i = items.length - 1; i >= 0; i--) frag.append(timelineRow(items[i]));
    list.prepend(frag);
    while (list.children.length > MAX_TIMELINE_ROWS) list.lastElementChild.remove();
  }

  function renderPlots() {
    const s = state.series;
    plot('plot-commits', s.map((p) => p.commits), 'line', '#0f8a5f');
    plot('plot-latency', s.map((p) => p.latencyMs), 'line', '#3b5bdb');
    plot('plot-elections', s.map((p) => p.elections), 'bars', '#c77700');
    const last = s[s.length - 1] || {};
    $('plot-commits-now').textContent = last.commits ?? '';
    $('plot-latency-now').textContent = last.latencyMs == null ? '' : last.latencyMs.toFixed(2);
    $('plot-elections-now').textContent = s.reduce((a, p) => a + (p.elections || 0), 0) + ' in view';
  }

  function plot(id, values, kind, color) {
    const canvas = $(id);
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 300;
    const h = canvas.clientHeight || 120;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const n = state.options.historySeconds || 300;
    const pad = { l: 34, r: 6, t: 8, b: 16 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    const nums = values.filter((v) => v != null);
    const max = niceMax(nums.length ? Math.max(...nums) : 0);
    g.strokeStyle = '#dde1e7'; g.fillStyle = '#6b7280'; g.font = '10px system-ui, sans-serif';
    g.beginPath();
    for (const f of [0, 0.5, 1]) {
      const y = pad.t + ph * (1 - f);
      g.moveTo(pad.l, y); g.lineTo(w - pad.r, y);
      g.fillText(fmt(max * f), 2, y + 3);
    }
    g.stroke();
    g.fillText('-' + Math.round(n / 60) + ' min', pad.l, h - 3);
    g.fillText('now', w - pad.r - 20, h - 3);
    const x = (i) => pad.l + pw * (n - values.length + i) / Math.max(1, n - 1);
    const y = (v) => pad.t + ph * (1 - v / max);
    g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 1.5;
    if (kind === 'bars') {
      const bw = Math.max(1, pw / n);
      values.forEach((v, i) => { if (v) g.fillRect(x(i) - bw / 2, y(v), bw, pad.t + ph - y(v)); });
      return;
    }
    g.beginPath();
    let pen = false;
    values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      if (pen) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
      pen = true;
    });
    g.stroke();
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  const fmt = (v) => (v >= 1000 ? (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k' : (Math.round(v * 100) / 100).toString());
  const bytes = (b) => (b == null ? '—' : b < 1024 ? b + ' B' : b < 1048576 ? (b / 1024).toFixed(1) + ' KiB' : (b / 1048576).toFixed(1) + ' MiB');
  const clock = (ms) => { const d = new Date(ms); return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0'); };

  // ---------------------------------------------------------------- forms

  function wireForms() {
    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const t = $('token').value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      dirty.admin = true; schedule();
    });
    $('add-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = $('add-id').value.trim();
      const out = $('propose-result');
      if (!id) return;
      $('add-btn').disabled = true;
      out.dataset.ok = ''; out.textContent = 'adding ' + id + '…';
      try {
        await adminPost('api/cluster/members', { id, role: $('add-role').value });
        out.dataset.ok = 'true';
        out.textContent = id + ' added as a ' + $('add-role').value;
        $('add-id').value = '';
      } catch (err) {
        out.dataset.ok = 'false';
        out.textContent = 'adding ' + id + ' failed: ' + err.message;
      } finally {
        $('add-btn').disabled = !token();
      }
    });
    $('propose-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const value = $('propose-value').value;
      const out = $('propose-result');
      if (!value) return;
      $('propose-btn').disabled = true;
      out.dataset.ok = ''; out.textContent = 'proposing…';
      delete out.dataset.index;
      try {
        const body = { value };
        if ($('propose-node').value) body.node = $('propose-node').value;
        const r = await adminPost('api/propose', body);
        out.dataset.ok = 'true';
        out.dataset.index = r.index;
        out.textContent = 'committed at index ' + r.index + ' via ' + r.node;
        $('propose-value').value = '';
      } catch (err) {
        out.dataset.ok = 'false';
        out.textContent = 'not committed: ' + err.message;
      } finally {
        $('propose-btn').disabled = !token();
      }
    });
  }

  // ---------------------------------------------------------------- start

  async function start() {
    readTokenFromHash();
    wireForms();
    renderAdmin();
    try {
      const r = await fetch('api/cluster', { headers: { 'Accept': 'application/json' } });
      if (r.ok) applySnapshot(await r.json());
    } catch (e) {
      $('nodes-empty').textContent = 'Could not load the cluster: ' + e.message;
    }
    connect();
    window.addEventListener('resize', () => { dirty.plots = true; schedule(); });
  }

  start();
})();
