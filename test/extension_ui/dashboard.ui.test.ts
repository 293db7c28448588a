// The agent dashboard inside a real VS Code (code-server + chromium, the extension installed
// from the .vsix) against the local pair: open it for agent dev from the agent's context menu,
// see pods created with kubectl turn Running, delete one and watch the counts change, open a
// drawer and see an event arrive. Screenshots go to .test-output/ui/ (dashboard-*.png).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CodeServer, openAgentsContainer, prepareArtifacts, runCommand, startCodeServer } from '../../extension_ui/code_server';

const run = promisify(execFile);

describe('agent dashboard in code-server with the local pair', function () {
  this.timeout(180_000);
  let vscode: CodeServer | undefined;
  let dir = '';
  const kubeconfig = () =>
    join(vscode!.userData, 'User', 'globalStorage', 'agent-workbench.kubernetes-agent-workbench', 'local-pair', 'kubeconfig');
  const view = () => vscode!.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig(), ...args]);

  before(async function () {
    this.timeout(900_000); // builds the .vsix (and on a fresh machine installs code-server)
    dir = await mkdtemp(join(tmpdir(), 'dashboard-ui-'));
    vscode = await startCodeServer(await prepareArtifacts());
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && vscode) {
      await vscode.screenshot(`dashboard-failed-${this.currentTest.title.replace(/\W+/g, '-')}`).catch(() => undefined);
    }
  });

  after(async () => {
    if (vscode) await runCommand(vscode.page, 'Kubernetes Agents: Stop Local Pair').catch(() => undefined);
    await vscode?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('opens the dashboard of agent dev from its context menu', async () => {
    const page = vscode!.page;
    await openAgentsContainer(page);
    await page.locator('.welcome-view-content').getByRole('button', { name: 'Start Local Pair' }).click({ timeout: 60_000 });
    await page.locator('.monaco-list-row', { hasText: 'local pair (dev)' }).first().click({ timeout: 120_000 });
    const agent = page.locator('.monaco-list-row', { hasText: '1 connected' }).first();
    await agent.waitFor({ timeout: 90_000 });
    await agent.click({ button: 'right' });
    await page.locator('.monaco-menu .action-label', { hasText: 'Open Agent Dashboard' }).first().hover({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    await view().locator('#title', { hasText: 'Agent dev' }).waitFor({ timeout: 60_000 });
    await view().locator('#health [data-part="replicas"]', { hasText: 'Connected agentk replicas: 1' }).waitFor({ timeout: 60_000 });
    await view().locator('#health [data-figure="streams"]').waitFor({ timeout: 60_000 });
  });

  it('shows pods created with kubectl turning Running, and the counts change when one is deleted', async () => {
    const running = view().locator('.chip[data-kind="Pod"][data-status="Running"] .count');
    const before = Number(await running.textContent({ timeout: 60_000 }));
    for (const name of ['dash-ui-1', 'dash-ui-2']) {
      const manifest = join(dir, `${name}.json`);
      await writeFile(
        manifest,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'default' },
          spec: { containers: [{ name: 'main', image: 'sim' }] },
        }),
      );
      await kubectl('create', '-f', manifest);
    }
    await view().locator('#table .row[data-status="Running"]:not([hidden])', { hasText: 'dash-ui-2' }).waitFor({ timeout: 90_000 });
    await view().locator('#table .row[data-status="Running"]:not([hidden])', { hasText: 'dash-ui-1' }).waitFor({ timeout: 90_000 });
    assert.equal(Number(await running.textContent()), before + 2);
    await vscode!.screenshot('dashboard-pods-running');
    await kubectl('delete', 'pod', 'dash-ui-1', '-n', 'default', '--wait=false');
    await view().locator('#table .row:not([hidden])', { hasText: 'dash-ui-1' }).waitFor({ state: 'detached', timeout: 90_000 });
    assert.equal(Number(await running.textContent()), before + 1);
    await vscode!.screenshot('dashboard-pod-deleted');
  });

  it("opens a pod's drawer and shows an event arriving live", async () => {
    await view().locator('#table .row:not([hidden])', { hasText: 'dash-ui-2' }).click();
    const drawer = view().locator('#drawer');
    await drawer.locator('[data-part="spec"] pre', { hasText: 'image: sim' }).waitFor({ timeout: 60_000 });
    await drawer.locator('ol.events li', { hasText: 'Started' }).waitFor({ timeout: 60_000 });
    await vscode!.screenshot('dashboard-drawer');
    await kubectl('delete', 'pod', 'dash-ui-2', '-n', 'default', '--wait=false');
    await drawer.locator('ol.events li', { hasText: 'Killing' }).waitFor({ timeout: 90_000 });
    await vscode!.screenshot('dashboard-drawer-event-arrived');
  });
});
