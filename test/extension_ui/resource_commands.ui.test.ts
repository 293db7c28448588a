// In a real VS Code (code-server + chromium), with the local pair: a Deployment made by kubectl shows
// in the tree with its pods; Scale (the input box answered) makes 3 pods; Copy Name and Copy YAML put
// the object on the browser's clipboard; Delete of a ConfigMap with the confirmation cancelled keeps
// it and with it accepted removes it (kubectl confirms both); Show Events of the namespace lists the
// kubelet's events. Screenshots go to .test-output/ui/.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { agentsPane, agentsWelcome, answerInput, expandRow, openAgentsContainer, runCommand, useCodeServer } from './code_server';
import { eventually } from '../support/eventually';

const run = promisify(execFile);

describe('extension UI: resource commands (scale, copy, delete, events)', function () {
  this.timeout(240_000);
  // Each step builds on the one before: after a failure the rest would only time out.
  this.bail(true);
  const suite = useCodeServer();
  /** Rows of the Agents view only (the Managed Apps view lists the agent too). */
  const agentsRows = () => agentsPane(suite.vscode.page).locator('.monaco-list-row');
  /** The row whose label is exactly `label` (pod names start with their Deployment's name). */
  const row = (label: string) =>
    agentsRows()
      .filter({ has: suite.vscode.page.locator('.label-name', { hasText: new RegExp(`^\\s*${label.replace(/[().]/g, '\\$&')}\\s*$`) }) })
      .first();
  const kubectl = async (...args: string[]) => (await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, ...args])).stdout;
  // A check drives the browser: poll it at a pace the page can answer.
  const until = (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => eventually(check, what, timeoutMs, 250);
  const clipboard = () => suite.vscode.page.evaluate(() => navigator.clipboard.readText());
  /** Running pod rows of ui-scale; with the Pods group collapsed, only those under the Deployment's row. */
  const podRows = () =>
    agentsRows()
      .filter({ hasText: /ui-scale-[a-z0-9]+-[a-z0-9]+/ })
      .filter({ hasText: 'Running' });
  const podNames = async () => (await podRows().locator('.label-name').allTextContents()).map((name) => name.trim()).sort();
  /** Selects a row; a click toggles a collapsible row, so a row the click collapsed is clicked again. */
  const select = async (label: string) => {
    await row(label).click();
    if ((await row(label).getAttribute('aria-expanded')) === 'false') await row(label).click();
  };

  before(async () => {
    await suite.vscode.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  });

  it('shows a Deployment created by kubectl with its pod', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click();
    await row('local pair (dev)').waitFor({ timeout: 90_000 });
    await expandRow(row('local pair (dev)'));
    await expandRow(agentsRows().filter({ hasText: '1 connected' }).first());
    await expandRow(row('default'));
    await kubectl('create', 'deployment', 'ui-scale', '--image=nginx:1');
    await kubectl('create', 'configmap', 'ui-keep', '--from-literal=a=1');
    await kubectl('create', 'configmap', 'ui-gone', '--from-literal=a=1');
    await expandRow(row('Deployments'));
    await row('ui-scale').filter({ hasText: 'ready 1/1' }).waitFor({ timeout: 60_000 });
    // The Pods group opens expanded; collapsed, the pod rows left are the Deployment's children.
    await row('Pods').waitFor({ timeout: 60_000 });
    if ((await row('Pods').getAttribute('aria-expanded')) === 'true') await row('Pods').click();
    await until('the Pods group collapsed', async () => (await row('Pods').getAttribute('aria-expanded')) === 'false');
    assert.equal(await podRows().count(), 0);
    await select('ui-scale');
    await podRows().first().waitFor({ timeout: 60_000 });
    assert.equal(await podRows().count(), 1);
    const deploymentLevel = Number(await row('ui-scale').getAttribute('aria-level'));
    assert.equal(Number(await podRows().first().getAttribute('aria-level')), deploymentLevel + 1);
    await suite.vscode.screenshot('resource-deployment-with-pods');
  });

  it('Scale: the input box answered with 3 makes 3 running pods', async () => {
    const page = suite.vscode.page;
    await select('ui-scale');
    await runCommand(page, 'Kubernetes Agents: Scale…');
    await answerInput(page, 'Scale Deployment default/ui-scale', '3');
    await until(
      '3/3 ready replicas',
      async () => (await kubectl('get', 'deployment', 'ui-scale', '-o', 'jsonpath={.spec.replicas}/{.status.readyReplicas}')) === '3/3',
    );
    await row('ui-scale').filter({ hasText: 'ready 3/3' }).waitFor({ timeout: 60_000 });
    await until('3 running pod rows', async () => (await podRows().count()) === 3);
    await page.locator('.notifications-toasts', { hasText: 'Deployment default/ui-scale scaled to 3.' }).waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('resource-scaled-to-3');
  });

  it('Copy Name and Copy YAML put the Deployment on the clipboard', async () => {
    const page = suite.vscode.page;
    await page.evaluate(() => navigator.clipboard.writeText('before the copy'));
    await select('ui-scale');
    await runCommand(page, 'Kubernetes Agents: Copy Name');
    await until('the name on the clipboard', async () => (await clipboard()) !== 'before the copy');
    assert.equal(await clipboard(), 'ui-scale');

    await select('ui-scale');
    await runCommand(page, 'Kubernetes Agents: Copy YAML');
    await page.locator('.notifications-toasts', { hasText: 'YAML of Deployment default/ui-scale copied.' }).waitFor({ timeout: 30_000 });
    const yaml = await clipboard();
    assert.match(yaml, /^kind: Deployment$/m);
    assert.match(yaml, /^ {2}name: ui-scale$/m);
    assert.match(yaml, /^ {2}replicas: 3$/m);
  });

  it('Restart Rollout replaces every pod under the Deployment, and kubectl rollout status sees it finish', async () => {
    const page = suite.vscode.page;
    const before = await podNames();
    assert.equal(before.length, 3);
    await select('ui-scale');
    await runCommand(page, 'Kubernetes Agents: Restart Rollout');
    await page.locator('.notifications-toasts', { hasText: 'Deployment default/ui-scale restarting.' }).waitFor({ timeout: 30_000 });
    assert.match(await kubectl('rollout', 'status', 'deployment/ui-scale', '--timeout=120s'), /successfully rolled out/);
    await until('3 new running pods under the Deployment', async () => {
      const now = await podNames();
      return now.length === 3 && now.every((name) => !before.includes(name));
    });
    await suite.vscode.screenshot('resource-rollout-restarted');
  });

  it('Delete a ConfigMap: cancelled it stays, confirmed it is gone', async () => {
    const page = suite.vscode.page;
    // Collapse Workloads so the Config group's rows fit in the view.
    await row('Workloads').click();
    await row('Config').click();
    await row('ConfigMaps').click();
    await row('ui-keep').waitFor({ timeout: 60_000 });

    await row('ui-keep').click();
    await runCommand(page, 'Kubernetes Agents: Delete…');
    const keep = page.locator('.monaco-dialog-box', { hasText: 'Delete ConfigMap default/ui-keep?' });
    await keep.waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('resource-delete-confirmation');
    await keep.getByRole('button', { name: 'Cancel', exact: true }).click();
    await keep.waitFor({ state: 'hidden', timeout: 30_000 });

    await row('ui-gone').click();
    await runCommand(page, 'Kubernetes Agents: Delete…');
    const gone = page.locator('.monaco-dialog-box', { hasText: 'Delete ConfigMap default/ui-gone?' });
    await gone.waitFor({ timeout: 30_000 });
    await gone.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('.notifications-toasts', { hasText: 'ConfigMap default/ui-gone deleted.' }).waitFor({ timeout: 30_000 });
    await row('ui-gone').waitFor({ state: 'detached', timeout: 30_000 });
    // Commands run one after the other: had the cancelled one deleted, it would have by now.
    const names = await kubectl('get', 'configmaps', '-o', 'jsonpath={.items[*].metadata.name}');
    assert.ok(!names.split(' ').includes('ui-gone'), names);
    assert.ok(names.split(' ').includes('ui-keep'), names);
    assert.equal(await row('ui-keep').isVisible(), true);
    await suite.vscode.screenshot('resource-deleted');
  });

  it('Show Events of the namespace lists the kubelet’s events', async () => {
    const page = suite.vscode.page;
    await row('default').click();
    await runCommand(page, 'Kubernetes Agents: Show Events');
    const editor = page.locator('.monaco-editor[data-uri*="events.txt"]').first();
    await editor.waitFor({ timeout: 30_000 });
    await editor.locator('.view-line', { hasText: 'Events of Namespace default:' }).waitFor({ timeout: 30_000 });
    const started = editor.locator('.view-line', { hasText: /Normal\s+Started\s+.*Pod\/ui-scale-/ }).first();
    await started.waitFor({ timeout: 30_000 });
    // Monaco renders spaces as no-break spaces: compare with whitespace normalised.
    assert.match(((await started.textContent()) ?? '').replace(/\s+/g, ' '), /Pod\/ui-scale-\S+ Started container nginx$/);
    await suite.vscode.screenshot('resource-namespace-events');
  });
});
