// The built agent dashboard page in chromium under its real Content Security Policy, fed as
// the extension feeds it (snapshots, deltas, detail, events, health) with generated data made
// into rows by the extension's summariser: counts by status, the status and text filters, the
// virtualised table with 5,000 pods, the drawer (owner tree, YAML, actions, live events), the
// keyboard path, and the error state clearing by itself.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { detailOf, eventRow, summarise } from '../../../extension/src/dashboard/summarise';
import { dashboardHtml } from '../../../extension/src/dashboard/dashboard_html';
import { YAML_TOKEN_CLASSES } from '../../../webviews/dashboard/yaml_highlight';
import { generate, podObject, podStatusOf } from './generate';
import { OUTPUT_DIR, openDashboardPage, type DashboardPage } from './page_harness';

const NAMESPACE = 'shop';
const data = generate(NAMESPACE, 500, 10);

function expectedPodCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < data.pods.length; i++) counts.set(podStatusOf(i), (counts.get(podStatusOf(i)) ?? 0) + 1);
  return counts;
}

describe('agent dashboard page in a browser (real CSP, generated data)', function () {
  this.timeout(90_000);
  let dashboard: DashboardPage;

  before(async () => {
    dashboard = await openDashboardPage();
    await dashboard.post(
      {
        type: 'init',
        agentName: 'dev',
        namespaces: ['default', NAMESPACE],
        namespace: NAMESPACE,
        kinds: ['Pod', 'Deployment', 'ReplicaSet'],
      },
      { type: 'state', state: 'loading', detail: '' },
      { type: 'snapshot', kind: 'Pod', rows: data.pods },
      { type: 'snapshot', kind: 'Deployment', rows: data.deployments },
      { type: 'snapshot', kind: 'ReplicaSet', rows: data.replicaSets },
      { type: 'state', state: 'live', detail: '' },
    );
  });

  after(async () => {
    await dashboard?.close();
  });

  const chipCount = (kind: string, status: string) =>
    dashboard.page.locator(`.chip[data-kind="${kind}"][data-status="${status}"] .count`).textContent();
  // Fills the filter and waits for the frame that drew it: the title alone can match the frame
  // before (two filters with the same number of pods), and the rows would then be the old ones.
  const setFilter = async (text: string) => {
    const drawn = Number(await dashboard.page.evaluate(() => document.body.dataset.renders));
    await dashboard.page.locator('#filter').fill(text);
    await dashboard.page.waitForFunction((before) => Number(document.body.dataset.renders) > before, drawn);
  };
  const waitForTitle = (text: string) =>
    dashboard.page.waitForFunction((expected) => document.getElementById('table-title')?.textContent === expected, text);

  it('counts 5,000 pods and 500 deployments by status, and draws only the rows in view', async () => {
    await waitForTitle('Pods · 5000');
    for (const [status, count] of expectedPodCounts()) assert.equal(await chipCount('Pod', status), String(count), `Pods ${status}`);
    assert.equal(await chipCount('Deployment', 'Failed'), '25');
    assert.equal(await chipCount('Deployment', 'Available'), '475');
    assert.equal(await dashboard.page.locator('.card-title[data-kind="Deployment"] .total').textContent(), '500');
    const drawn = await dashboard.page.locator('#table .row:not([hidden])').count();
    assert.ok(drawn > 10 && drawn < 100, `virtualised: ${drawn} row elements for 5,000 pods`);
    assert.equal(
      await dashboard.page.locator('#table .row').first().locator('.cell').first().textContent(),
      data.pods.map((p) => p.name).sort()[0],
    );
    assert.ok(await dashboard.page.locator('#state').isHidden());
  });

  it('shows kinds not wired yet as unavailable, not as zero', async () => {
    assert.equal(await dashboard.page.locator('.card-title[data-kind="CronJob"] .total').textContent(), '–');
    await dashboard.page.locator('.card-title[data-kind="CronJob"]').click();
    await dashboard.page.locator('#empty', { hasText: 'CronJobs are not available' }).waitFor();
  });

  it('filters by a status chip and by text, with an empty state when nothing matches', async () => {
    await dashboard.page.locator('.chip[data-kind="Pod"][data-status="CrashLoopBackOff"]').click();
    const crashing = expectedPodCounts().get('CrashLoopBackOff')!;
    await waitForTitle(`Pods · CrashLoopBackOff · ${crashing}`);
    const statuses = await dashboard.page
      .locator('#table .row:not([hidden])')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.status));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 'CrashLoopBackOff'));
    await dashboard.page.locator('.card-title[data-kind="Pod"]').click();
    await setFilter('app-0042');
    await waitForTitle('Pods · 10');
    assert.equal(await dashboard.page.locator('#table .row:not([hidden])').count(), 10);
    assert.equal(await dashboard.page.locator('#table .row[hidden][id]').count(), 0, 'spare rows keep no stale id');
    await setFilter('no-such-pod');
    await dashboard.page.locator('#empty', { hasText: 'No pods match the filter.' }).waitFor();
    await setFilter('');
    await waitForTitle('Pods · 5000');
  });

  it('opens a deployment in the drawer: detail, YAML, its ReplicaSet and pods, and actions posted', async () => {
    await dashboard.page.locator('.card-title[data-kind="Deployment"]').click();
    await setFilter('app-0003');
    await waitForTitle('Deployments · 1');
    await dashboard.page.locator('#table .row').first().click();
    const opened = (await dashboard.posted()).filter((m) => m.type === 'openDetail').at(-1) as { ref?: { uid: string } } | undefined;
    assert.equal(opened?.ref?.uid, 'deploy-app-0003');
    await dashboard.post({ type: 'detail', detail: detailOf('Deployment', data.objects.deployments[3]!) });
    const drawer = dashboard.page.locator('#drawer');
    await drawer.locator('[data-part="labels"] dd', { hasText: 'app-0003' }).waitFor();
    assert.match((await drawer.locator('[data-part="spec"] pre').textContent()) ?? '', /replicas: 10/);
    assert.ok((await drawer.locator('[data-part="spec"] span.yaml-key').count()) >= 2, 'spec keys highlighted');
    assert.equal(await drawer.locator('[data-part="conditions"] li strong').textContent(), 'Available: True');
    await drawer.locator('li[data-relation="owned"] button', { hasText: 'ReplicaSet app-0003-5d8f9c7b6' }).waitFor();
    assert.equal(await drawer.locator('li[data-relation="owned"] ul li').count(), 10, 'the ReplicaSet’s 10 pods');
    // With the drawer and the health panel beside it, every column still fits, none cut short.
    const clipped = await dashboard.page.evaluate(() => {
      const right = document.getElementById('resources')!.getBoundingClientRect().right;
      return Array.from(document.querySelectorAll<HTMLElement>('#table-header .cell'))
        .filter((cell) => cell.getBoundingClientRect().right > right + 0.5 || cell.scrollWidth > cell.clientWidth)
        .map((cell) => cell.textContent);
    });
    assert.deepEqual(clipped, [], 'columns cut off beside the drawer');
    await drawer.locator('button[data-action="delete"]').click();
    const action = (await dashboard.posted()).at(-1) as { type: string; action?: string; ref?: { name: string } };
    assert.deepEqual([action.type, action.action, action.ref?.name], ['action', 'delete', 'app-0003']);
    assert.equal(await drawer.locator('button[data-action="logs"]').count(), 0, 'no logs action on a deployment');
  });

  it('shows events as they arrive and owned pods changing live', async () => {
    const drawer = dashboard.page.locator('#drawer');
    const event = (n: number) =>
      eventRow({
        metadata: { uid: `ev-${n}` },
        type: n === 2 ? 'Warning' : 'Normal',
        reason: `Reason${n}`,
        message: `message ${n}`,
        lastTimestamp: new Date(),
      });
    await dashboard.post({ type: 'events', uid: 'deploy-app-0003', events: [event(1)], live: true });
    await drawer.locator('ol.events li').first().waitFor();
    await dashboard.post({ type: 'events', uid: 'deploy-app-0003', events: [event(1), event(2)], live: true });
    await drawer.locator('ol.events li[data-type="Warning"]', { hasText: 'message 2' }).waitFor();
    assert.equal(await drawer.locator('[data-part="events"] h3').textContent(), 'Events (live)');
    // The message has a line of its own under age, type and reason: a narrow drawer keeps it readable.
    const [reason, message] = await drawer
      .locator('ol.events li')
      .first()
      .evaluate((item) => [item.querySelector('.event-reason')!, item.lastElementChild!].map((e) => e.getBoundingClientRect().toJSON()));
    assert.ok(message.top >= reason.bottom - 0.5 && message.width > reason.width, JSON.stringify({ reason, message }));
    // Events of another object do not land in this drawer.
    await dashboard.post({ type: 'events', uid: 'someone-else', events: [event(3)], live: true });
    // One of its pods is deleted, another starts crash-looping: the tree and the counts follow.
    const pods = data.pods.filter((p) => p.owners[0]?.uid === 'rs-app-0003-5d8f9c7b6');
    const running = Number(await chipCount('Pod', 'Running'));
    const crashing = { ...summarise('Pod', podObject(pods[1]!.name, NAMESPACE, 25, pods[1]!.owners[0])), uid: pods[1]!.uid };
    await dashboard.post({ type: 'delta', upserts: [crashing], deletes: [{ kind: 'Pod', uid: pods[0]!.uid }] });
    await dashboard.page.waitForFunction((n) => document.querySelectorAll('#drawer li[data-relation="owned"] ul li').length === n, 9);
    assert.equal(await drawer.locator('ol.events li').count(), 2);
    const runningBefore = [podStatusOf(30), podStatusOf(31)].filter((s) => s === 'Running').length;
    assert.equal(Number(await chipCount('Pod', 'Running')), running - runningBefore);
  });

  it('moves through the table with the keyboard and closes the drawer with Escape', async () => {
    await dashboard.page.keyboard.press('Escape');
    await dashboard.page.locator('#drawer').waitFor({ state: 'hidden' });
    assert.equal(await dashboard.page.evaluate(() => document.activeElement?.id), 'table');
    await dashboard.page.locator('.card-title[data-kind="Pod"]').click();
    await setFilter('app-0007');
    await waitForTitle('Pods · 10');
    await dashboard.page.locator('#table').focus();
    await dashboard.page.keyboard.press('Home');
    await dashboard.page.keyboard.press('ArrowDown');
    await dashboard.page.keyboard.press('Enter');
    const opened = (await dashboard.posted()).filter((m) => m.type === 'openDetail').at(-1) as { ref?: { name: string } };
    assert.equal(opened.ref?.name, 'app-0007-5d8f9c7b6-001x');
    assert.ok(await dashboard.page.locator('#drawer button[data-action="logs"]').isVisible(), 'pods have logs');
    await dashboard.page.keyboard.press('Escape');
    await dashboard.page.keyboard.press('/');
    assert.equal(await dashboard.page.evaluate(() => document.activeElement?.id), 'filter');
  });

  it('keeps the counts exact while hundreds of watch events arrive, and the rows in view follow them', async () => {
    // Pods no other test touches: their statuses are known here, so the expected counts are too.
    const subset = data.pods.filter((p) => p.name >= 'app-0100' && p.name < 'app-0150');
    const current = new Map(subset.map((p) => [p.uid, p.status]));
    const statuses = ['Running', 'Pending', 'Succeeded', 'Failed', 'CrashLoopBackOff'];
    const before = new Map<string, number>();
    for (const status of statuses) before.set(status, Number(await chipCount('Pod', status)));
    const totalBefore = Number(await dashboard.page.locator('.card-title[data-kind="Pod"] .total').textContent());
    const gone = new Set<string>();
    for (let batch = 0; batch < 50; batch++) {
      const messages = Array.from({ length: 10 }, (_, i) => {
        const n = batch * 10 + i;
        const row = subset[(n * 7) % subset.length]!;
        // Every 13th event deletes the pod (a later one brings it back): deletes count too.
        if (n % 13 === 12 && !gone.has(row.uid)) {
          gone.add(row.uid);
          return { type: 'delta' as const, upserts: [], deletes: [{ kind: 'Pod' as const, uid: row.uid }] };
        }
        gone.delete(row.uid);
        const status = statuses[(n * 3) % statuses.length]!;
        current.set(row.uid, status);
        return { type: 'delta' as const, upserts: [{ ...row, status }], deletes: [] };
      });
      await dashboard.post(...messages);
    }
    const expected = new Map(before);
    for (const row of subset) expected.set(row.status, expected.get(row.status)! - 1);
    for (const [uid, status] of current) if (!gone.has(uid)) expected.set(status, expected.get(status)! + 1);
    await dashboard.page.waitForFunction(
      (total) => document.querySelector('.card-title[data-kind="Pod"] .total')?.textContent === String(total),
      totalBefore - gone.size,
    );
    for (const status of statuses) assert.equal(await chipCount('Pod', status), String(expected.get(status)), `Pods ${status}`);
    await setFilter('app-0100');
    await waitForTitle(`Pods · ${subset.filter((p) => p.name.startsWith('app-0100') && !gone.has(p.uid)).length}`);
    const shown = await dashboard.page
      .locator('#table .row:not([hidden])')
      .evaluateAll((rows) => rows.map((r) => [r.querySelector('.cell')!.textContent, (r as HTMLElement).dataset.status]));
    const byName = new Map(subset.map((p) => [p.name, current.get(p.uid)]));
    for (const [name, status] of shown) assert.equal(status, byName.get(name!), `${name} shows its last status`);
    await setFilter('');
  });

  it('shows kas unreachable and clears it when the data flows again; shows the agent’s health', async () => {
    await dashboard.post({ type: 'state', state: 'kasUnreachable', detail: 'KAS_UNREACHABLE: no answer from kas' });
    await dashboard.page.locator('#state', { hasText: 'kas is unreachable' }).waitFor();
    await dashboard.post({ type: 'state', state: 'live', detail: '' });
    await dashboard.page.locator('#state').waitFor({ state: 'hidden' });
    const minutes = Array.from({ length: 15 }, (_, i) => ({
      start: i * 60_000,
      requests: i * 2,
      errors: i % 5 === 0 ? 1 : 0,
      p50Ms: 3,
      p99Ms: 40,
      openStreams: 2,
    }));
    await dashboard.post({
      type: 'health',
      health: {
        agentId: '1',
        agentName: 'dev',
        connections: [{ podName: 'agentk-0', podNamespace: 'gitlab-agent', version: 'v0.1.0', connectedSince: new Date().toISOString() }],
        config: {
          commit: '0123456789abcdef',
          valid: false,
          firstError: { message: 'unknown key "gitops"', file: '.gitlab/agents/dev/config.yaml', line: 3, column: 1 },
        },
        figures: {
          agentId: 1,
          windowMinutes: 15,
          minutes,
          requestsPerMinute: 14,
          errorsPerMinute: 0.2,
          p50Ms: 3.2,
          p99Ms: 41,
          openStreams: 2,
          busyStreams: 1,
          scope: 'replica',
        },
      },
    });
    const health = dashboard.page.locator('#health');
    await health.locator('[data-figure="requests"] .figure-value', { hasText: '14.0' }).waitFor();
    assert.equal(await health.locator('[data-figure="p99"] .figure-value').textContent(), '41 ms');
    assert.equal(await health.locator('[data-figure="streams"] .figure-value').textContent(), '2');
    assert.match((await health.locator('[data-part="replicas"]').textContent()) ?? '', /gitlab-agent\/agentk-0/);
    await health.locator('[data-part="config"] button.link').click();
    assert.equal((await dashboard.posted()).at(-1)?.type, 'openConfig');
    assert.ok(await health.locator('canvas').isVisible());
    await mkdir(OUTPUT_DIR, { recursive: true });
    await dashboard.page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-page.png') });
  });

  it('switches namespace from the picker: asks the extension, then shows the new namespace, empty state included', async () => {
    await dashboard.page.locator('#namespace').selectOption('default');
    const asked = (await dashboard.posted()).filter((m) => m.type === 'selectNamespace').at(-1);
    assert.deepEqual(asked, { type: 'selectNamespace', namespace: 'default' });
    await dashboard.post(
      {
        type: 'init',
        agentName: 'dev',
        namespaces: ['default', NAMESPACE],
        namespace: 'default',
        kinds: ['Pod', 'Deployment', 'ReplicaSet'],
      },
      { type: 'snapshot', kind: 'Pod', rows: [] },
    );
    await dashboard.page.locator('.card-title[data-kind="Pod"]').click();
    await dashboard.page.locator('#empty', { hasText: 'No pods in namespace default.' }).waitFor();
    assert.equal(await dashboard.page.locator('.card-title[data-kind="Pod"] .total').textContent(), '0');
    assert.equal(await dashboard.page.locator('.card-title[data-kind="Deployment"] .total').textContent(), '–', 'not listed yet');
    assert.equal(await dashboard.page.locator('#namespace').inputValue(), 'default');
    assert.equal(await dashboard.page.locator('#table .row:not([hidden])').count(), 0);
  });

  it('takes every colour from the VS Code theme: dark, light, high contrast dark and light', async () => {
    const themes = {
      dark: { class: 'vscode-dark', bg: '#1f1f1f', fg: '#cccccc', error: '#f85149', passed: '#73c991', chart: '#3794ff', border: '' },
      light: { class: 'vscode-light', bg: '#ffffff', fg: '#3b3b3b', error: '#e51400', passed: '#388a34', chart: '#1a85ff', border: '' },
      'high-contrast': {
        class: 'vscode-high-contrast',
        bg: '#000000',
        fg: '#ffffff',
        error: '#f48771',
        passed: '#89d185',
        chart: '#2f8fff',
        border: '#6fc3df',
      },
      'high-contrast-light': {
        class: 'vscode-high-contrast-light',
        bg: '#ffffff',
        fg: '#292929',
        error: '#b5200d',
        passed: '#374e06',
        chart: '#0f4a85',
        border: '#0f4a85',
      },
    };
    // Rows of two statuses in view: a Running pod and a crash-looping one.
    const rows = [data.pods[1]!, data.pods[25]!];
    await dashboard.post({ type: 'snapshot', kind: 'Pod', rows });
    await waitForTitle('Pods · 2');
    const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
    for (const [name, theme] of Object.entries(themes)) {
      // No named helpers inside: tsx would wrap them in a __name() the page does not have.
      const colours = await dashboard.page.evaluate((t) => {
        document.body.className = t.class;
        const root = document.documentElement.style;
        for (const [key, value] of Object.entries({
          'editor-background': t.bg,
          'editor-foreground': t.fg,
          errorForeground: t.error,
          'testing-iconPassed': t.passed,
          'charts-blue': t.chart,
          contrastBorder: t.border,
        })) {
          if (value) root.setProperty(`--vscode-${key}`, value);
          else root.removeProperty(`--vscode-${key}`);
        }
        const body = getComputedStyle(document.body);
        return {
          bg: body.backgroundColor,
          fg: body.color,
          running: getComputedStyle(document.querySelector('#table .row[data-status="Running"] .cell:nth-child(3)')!).color,
          crashing: getComputedStyle(document.querySelector('#table .row[data-status="CrashLoopBackOff"] .cell:nth-child(3)')!).color,
          card: getComputedStyle(document.querySelector('.card')!).borderTopColor,
        };
      }, theme);
      assert.deepEqual(
        [colours.bg, colours.fg, colours.running, colours.crashing],
        [rgb(theme.bg), rgb(theme.fg), rgb(theme.passed), rgb(theme.error)],
        name,
      );
      if (theme.border) assert.equal(colours.card, rgb(theme.border), `${name}: cards outlined in the contrast border`);
      // The tunnel chart is drawn again in the theme's colour (a canvas does not follow CSS by itself).
      await dashboard.page.waitForFunction((expected) => {
        const canvas = document.querySelector<HTMLCanvasElement>('#health canvas')!;
        const [r, g, b] = canvas.getContext('2d')!.getImageData(14 * 20 + 10, canvas.height - 2, 1, 1).data;
        return `rgb(${r}, ${g}, ${b})` === expected;
      }, rgb(theme.chart));
      await dashboard.page.screenshot({ path: join(OUTPUT_DIR, `dashboard-page-${name}.png`) });
    }
  });

  it('ran without a single Content Security Policy violation', async () => {
    assert.deepEqual(await dashboard.violations(), []);
  });
});

describe('agent dashboard page markup', () => {
  const html = dashboardHtml('https://x.vscode-cdn.net', 'N0NCE', 'https://x.vscode-cdn.net/dashboard.js');

  it('allows only its own nonce-carrying script and style: no eval, no inline, no fetch', () => {
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-N0NCE';/);
    assert.match(csp, /style-src 'nonce-N0NCE';/);
    assert.ok(!/unsafe-|connect-src|wasm/.test(csp), csp);
  });

  it('colours every YAML token class from the theme', () => {
    for (const className of YAML_TOKEN_CLASSES) assert.match(html, new RegExp(`span\\.${className} \\{ color: var\\(--vscode-`));
  });
});
