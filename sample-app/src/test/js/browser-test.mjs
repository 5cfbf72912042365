// Drives the raft-vertx web UI in a real, headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, against a running sample app. Started by WebUiBrowserTest (Maven); it can also
// be run by hand against `java -jar sample-app/target/sample-app.jar`:
//
//   UI_URL=http://localhost:8080/ ADMIN_TOKEN=... KV_URLS=http://localhost:8081 \
//     node sample-app/src/test/js/browser-test.mjs
//
// Environment: UI_URL (required), ADMIN_TOKEN (required), KV_URLS (comma-separated node URLs for
// background load, optional), SCREENSHOT (PNG path, default webui.png), CHROMIUM (default
// /usr/bin/chromium). Exits 0 when every check passed, 1 otherwise (with a screenshot of the
// failure next to SCREENSHOT).

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const UI_URL = process.env.UI_URL;
const TOKEN = process.env.ADMIN_TOKEN;
const KV_URLS = (process.env.KV_URLS || '').split(',').filter(Boolean);
const SCREENSHOT = process.env.SCREENSHOT || 'webui.png';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 30_000;

if (!UI_URL || !TOKEN) {
  console.error('UI_URL and ADMIN_TOKEN are required');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  process.exit(2);
}

const log = (...a) => console.log('[browser-test]', ...a);
const watchdog = setTimeout(() => { console.error('[browser-test] overall timeout'); process.exit(1); }, 240_000);

const userDataDir = mkdtempSync(join(tmpdir(), 'raft-webui-chromium-'));
let context;
let page;
const pageErrors = [];

async function main() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-dev-shm-usage'],
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => pageErrors.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push('console error: ' + m.text()); });
  // Nothing but the app itself may be fetched: no CDN, no network.
  const origin = new URL(UI_URL).origin;
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:')) pageErrors.push('request outside the app: ' + u);
  });

  await page.goto(new URL('#token=' + encodeURIComponent(TOKEN), UI_URL).href);
  await page.waitForFunction(() => !location.hash, null, { timeout: STEP_MS });

  // 1. Three nodes, one leader.
  await page.waitForFunction(() => {
    const running = document.querySelectorAll('.node[data-state="running"]').length;
    const leaders = document.querySelectorAll('.node[data-state="running"][data-role="leader"]');
    return running === 3 && leaders.length === 1
      && document.getElementById('conn').dataset.state === 'live';
  }, null, { timeout: STEP_MS });
  const first = await leaderOnPage();
  log(`three nodes, leader ${first.id} in term ${first.term}`);
  const clusterLeader = await page.textContent('#cluster-leader');
  if (clusterLeader !== first.id) throw new Error(`cluster header names ${clusterLeader}, cards ${first.id}`);

  // 2. Stop the leader through the UI: a new leader with a higher term appears.
  await page.click(`.node[data-node="${first.id}"] button[data-action="stop"]`);
  await page.waitForFunction(({ old, term }) => {
    const stopped = document.querySelector(`.node[data-node="${old}"]`).dataset.state === 'stopped';
    const leaders = [...document.querySelectorAll('.node[data-state="running"][data-role="leader"]')];
    return stopped && leaders.length === 1 && leaders[0].dataset.node !== old
      && Number(leaders[0].dataset.term) > term
      && document.getElementById('cluster-leader').textContent === leaders[0].dataset.node;
  }, { old: first.id, term: first.term }, { timeout: STEP_MS });
  const second = await leaderOnPage();
  log(`stopped ${first.id}; new leader ${second.id} in term ${second.term}`);
  await page.waitForSelector('#timeline li[data-type="action"]', { timeout: STEP_MS });

  // 3. Restart it: it rejoins as a follower.
  await page.click(`.node[data-node="${first.id}"] button[data-action="start"]`);
  await page.waitForFunction((old) => {
    const card = document.querySelector(`.node[data-node="${old}"]`);
    return card.dataset.state === 'running' && card.dataset.role === 'follower';
  }, first.id, { timeout: STEP_MS });
  log(`restarted ${first.id}`);

  // 4. Propose a value through the UI: it shows up, committed, in every node's log view.
  const value = 'browser=hello-' + Date.now();
  await page.fill('#propose-value', value);
  await page.click('#propose-btn');
  await page.waitForSelector('#propose-result[data-ok="true"]', { timeout: STEP_MS });
  const index = Number(await page.getAttribute('#propose-result', 'data-index'));
  if (!(index > 0)) throw new Error('no index in the propose result');
  await page.waitForFunction(({ index, label }) => {
    const cards = [...document.querySelectorAll('.node')];
    return cards.length === 3 && cards.every((c) => {
      const e = c.querySelector(`.log .entry[data-index="${index}"]`);
      return e && e.dataset.committed === 'true' && e.dataset.label === label;
    });
  }, { index, label: 'put ' + value }, { timeout: STEP_MS });
  log(`proposed "${value}": committed at index ${index} in all three log views`);

  // 5. Partition a follower away, then heal it.
  const follower = await page.evaluate(() =>
    document.querySelector('.node[data-state="running"][data-role="follower"]').dataset.node);
  await page.click(`.node[data-node="${follower}"] button[data-action="partition"]`);
  await page.waitForFunction((id) => !!document.querySelector(`.node[data-node="${id}"] .badge`)
    && document.querySelector(`.node[data-node="${id}"] button[data-action="heal"]`), follower,
  { timeout: STEP_MS });
  await page.click(`.node[data-node="${follower}"] button[data-action="heal"]`);
  await page.waitForFunction((id) => !document.querySelector(`.node[data-node="${id}"] .badge`)
    && document.querySelector(`.node[data-node="${id}"] button[data-action="partition"]`), follower,
  { timeout: STEP_MS });
  log(`partitioned and healed ${follower}`);

  // 6. Hand leadership to a follower ("Make leader"), then add a fourth node as a voter.
  const heir = await page.evaluate(() =>
    document.querySelector('.node[data-state="running"][data-role="follower"] button[data-action="transfer"]').dataset.node);
  await page.click(`.node[data-node="${heir}"] button[data-action="transfer"]`);
  await page.waitForFunction((id) => document.querySelector(`.node[data-node="${id}"]`).dataset.role === 'leader'
    && document.getElementById('cluster-leader').textContent === id, heir, { timeout: STEP_MS });
  log(`transferred leadership to ${heir}`);
  await page.fill('#add-id', 'n4');
  await page.click('#add-btn');
  await page.waitForFunction(() => {
    const card = document.querySelector('.node[data-node="n4"]');
    return card && card.dataset.state === 'running' && card.dataset.role === 'follower'
      && document.getElementById('cluster-voters').textContent.split(' ').includes('n4');
  }, null, { timeout: 60_000 });
  log('added n4 as a voter');

  // 6. Under a burst of writes the page keeps rendering (no frame gap over 1 s) and the log views
  //    keep up.
  if (KV_URLS.length) {
    await page.evaluate(() => {
      window.__gaps = { max: 0, last: performance.now(), stop: false };
      const tick = (t) => {
        const g = window.__gaps;
        g.max = Math.max(g.max, t - g.last);
        g.last = t;
        if (!g.stop) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const written = await load(KV_URLS, 4_000, 32);
    await page.waitForFunction((min) => Number(document.getElementById('cluster-commit').textContent) >= min,
      index + written, { timeout: STEP_MS });
    const maxGap = await page.evaluate(() => { window.__gaps.stop = true; return window.__gaps.max; });
    const commit = await page.evaluate(() => Number(document.getElementById('cluster-commit').textContent));
    log(`load: ${written} writes in 4 s; longest frame gap ${maxGap.toFixed(0)} ms; page shows commit ${commit}`);
    if (written < 50) throw new Error(`only ${written} writes succeeded under load`);
    if (maxGap > 1_000) throw new Error(`the page froze for ${maxGap.toFixed(0)} ms under load`);
  }

  // The picture for the README: settle, then shoot.
  await page.waitForFunction(() => document.querySelectorAll('.node[data-state="running"]').length === 4
    && document.querySelectorAll('.node[data-role="leader"]').length === 1, null, { timeout: STEP_MS });
  await new Promise((r) => setTimeout(r, 1_500));
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  log(`screenshot saved to ${SCREENSHOT}`);

  const halted = await page.$$eval('.node .badge.halted', (els) => els.map((e) => e.closest('.node').dataset.node));
  if (halted.length) throw new Error('nodes halted: ' + halted.join(', '));
  if (pageErrors.length) throw new Error(pageErrors.join('\n'));
}

async function leaderOnPage() {
  return page.evaluate(() => {
    const c = document.querySelector('.node[data-state="running"][data-role="leader"]');
    return { id: c.dataset.node, term: Number(c.dataset.term) };
  });
}

/** PUTs keys through the nodes' KV APIs with `concurrency` requests in flight for `millis`. */
async function load(urls, millis, concurrency) {
  const end = Date.now() + millis;
  let ok = 0;
  let n = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const i = n++;
      const r = await fetch(`${urls[i % urls.length]}/kv/load-${i % 500}`, { method: 'PUT', body: 'v' + i });
      await r.arrayBuffer();
      if (r.ok) ok++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ok;
}

let code = 0;
try {
  await main();
  log('all checks passed');
} catch (e) {
  code = 1;
  console.error('[browser-test] FAILED:', e && e.stack ? e.stack : e);
  if (page) {
    const failShot = SCREENSHOT.replace(/\.png$/, '') + '-failure.png';
    await page.screenshot({ path: failShot, fullPage: true }).catch(() => {});
    console.error('[browser-test] failure screenshot:', failShot);
  }
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exit(code);
