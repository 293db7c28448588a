// The agent dashboard inside a real VS Code (code-server + chromium, the extension installed
// from the .vsix) against the local pair: opened for agent dev from the agent's context menu,
// a Deployment created with kubectl whose pods turn Running (in the table, the counts and the
// Deployment's drawer), a pod deleted and the counts following, a pod's drawer with an event
// arriving live. Screenshots go to .test-output/ui/ (dashboard-*.png). Every wait is on what the
// page shows; the local pair and code-server are stopped after the run.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentsPane, agentsWelcome, openAgentsContainer, useCodeServer } from './code_server';

const run = promisify(execFile);
/** Generous: the machine's two cores are shared with other test runs. */
const SLOW = 120_000;

describe('agent dashboard in code-server with the local pair', function () {
  this.timeout(300_000);
  const suite = useCodeServer({ stopLocalPair: true });
  const view = () => suite.vscode.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  const kubectl = async (...args: string[]) => (await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, ...args])).stdout;
  const count = (kind: string, status: string) => view().locator(`.chip[data-kind="${kind}"][data-status="${status}"] .count`);
  /** Waits until the overview shows exactly `n` for the kind's status. */
  const countIs = (kind: string, status: string, n: number) =>
    count(kind, status)
      .filter({ hasText: new RegExp(`^${n}$`) })
      .waitFor({ timeout: SLOW });
  const rows = () => view().locator('#table .row:not([hidden])');
  /** Shows the kind's table filtered by `filter`; with `expect`, waits until it shows that many rows. */
  const showKind = async (kind: string, filter: string, expect?: number) => {
    await view().locator(`.card-title[data-kind="${kind}"]`).click();
    await view().locator('#filter').fill(filter);
    if (expect !== undefined)
      await view()
        .locator('#table-title', { hasText: `${kind}s · ${expect}` })
        .waitFor({ timeout: SLOW });
  };

  it('opens the dashboard of agent dev from its context menu, with the agent’s health', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click({ timeout: 60_000 });
    await agentsPane(page).locator('.monaco-list-row', { hasText: 'local pair (dev)' }).first().click({ timeout: SLOW });
    const agent = agentsPane(page).locator('.monaco-list-row', { hasText: '1 connected' }).first();
    await agent.waitFor({ timeout: SLOW });
    await agent.click({ button: 'right' });
    await page.locator('.monaco-menu .action-label', { hasText: 'Open Agent Dashboard' }).first().hover({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    await view().locator('#title', { hasText: 'Agent dev' }).waitFor({ timeout: SLOW });
    await view().locator('#health [data-part="replicas"]', { hasText: 'Connected agentk replicas: 1' }).waitFor({ timeout: SLOW });
    await view().locator('#health [data-figure="streams"]').waitFor({ timeout: SLOW });
    await view().locator('#state').waitFor({ state: 'hidden', timeout: SLOW });
  });

  let running = 0;
  let available = 0;

  it("shows a Deployment's pods turning Running: in the table, the counts and its drawer", async () => {
    // Every kind listed: the counts read now are the baseline.
    for (const kind of ['Pod', 'Deployment'])
      await view().locator(`.card-title[data-kind="${kind}"] .total`, { hasText: /^\d+$/ }).waitFor();
    running = Number(await count('Pod', 'Running').textContent());
    available = Number(await count('Deployment', 'Available').textContent());
    const solo = join(suite.dir, 'dash-solo.json');
    await writeFile(
      solo,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'dash-solo', namespace: 'default' },
        spec: { containers: [{ name: 'main', image: 'sim' }] },
      }),
    );
    await kubectl('create', 'deployment', 'dash-web', '--image=sim', '--replicas=2', '-n', 'default');
    await kubectl('create', '-f', solo);

    await showKind('Pod', 'dash-');
    await rows().filter({ hasText: 'dash-web-' }).nth(1).waitFor({ timeout: SLOW });
    await view().locator('#table .row[data-status="Running"]:not([hidden])').nth(2).waitFor({ timeout: SLOW });
    assert.equal(await rows().count(), 3, 'two pods of dash-web and dash-solo');
    await countIs('Pod', 'Running', running + 3);
    await countIs('Deployment', 'Available', available + 1);
    await suite.vscode.screenshot('dashboard-pods-running');

    await showKind('Deployment', 'dash-web', 1);
    await rows().filter({ hasText: 'Available' }).filter({ hasText: '2/2' }).waitFor({ timeout: SLOW });
    await rows().first().click();
    const drawer = view().locator('#drawer');
    await drawer.locator('#drawer-title', { hasText: 'Deployment default/dash-web' }).waitFor();
    // Deployment → its ReplicaSet → the two pods, each Running.
    await drawer.locator('li[data-relation="owned"] ul li [data-status="Running"]').nth(1).waitFor({ timeout: SLOW });
    await drawer.locator('[data-part="spec"] pre', { hasText: 'replicas: 2' }).waitFor({ timeout: SLOW });
    await suite.vscode.screenshot('dashboard-deployment-drawer');
    await view().locator('#drawer .drawer-close').click();
    await drawer.waitFor({ state: 'hidden' });
  });

  it('follows a deleted pod: the counts drop, and a Deployment replaces its pod', async () => {
    await showKind('Pod', 'dash-');
    await kubectl('delete', 'pod', 'dash-solo', '-n', 'default', '--wait=false');
    await rows().filter({ hasText: 'dash-solo' }).waitFor({ state: 'detached', timeout: SLOW });
    await countIs('Pod', 'Running', running + 2);
    await suite.vscode.screenshot('dashboard-pod-deleted');

    const victim = (await rows().filter({ hasText: 'dash-web-' }).first().locator('.cell').first().textContent())!;
    await kubectl('delete', 'pod', victim, '-n', 'default', '--wait=false');
    await rows().filter({ hasText: victim }).waitFor({ state: 'detached', timeout: SLOW });
    await view().locator('#table .row[data-status="Running"]:not([hidden])', { hasText: 'dash-web-' }).nth(1).waitFor({ timeout: SLOW });
    await countIs('Pod', 'Running', running + 2);
  });

  it("opens a pod's drawer from its Deployment's tree and shows an event arriving live", async () => {
    await showKind('Deployment', 'dash-web', 1);
    await rows().first().click();
    const drawer = view().locator('#drawer');
    const pod = drawer.locator('li[data-relation="owned"] ul li button').first();
    await pod.waitFor({ timeout: SLOW });
    const name = ((await pod.textContent()) ?? '').replace(/^Pod /, '');
    await pod.click();
    await drawer.locator('#drawer-title', { hasText: `Pod default/${name}` }).waitFor();
    await drawer.locator('[data-part="spec"] pre', { hasText: 'image: sim' }).waitFor({ timeout: SLOW });
    await drawer.locator('ol.events li', { hasText: 'Started' }).waitFor({ timeout: SLOW });
    assert.equal(await drawer.locator('ol.events li', { hasText: 'Killing' }).count(), 0);
    await suite.vscode.screenshot('dashboard-drawer');
    await kubectl('delete', 'pod', name, '-n', 'default', '--wait=false');
    await drawer.locator('ol.events li', { hasText: 'Killing' }).waitFor({ timeout: SLOW });
    await drawer.locator('.drawer-header [data-status="Deleted"]').waitFor({ timeout: SLOW });
    await suite.vscode.screenshot('dashboard-drawer-event-arrived');
  });
});
