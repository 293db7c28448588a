// In a real VS Code (code-server + chromium), with the local pair: a pod declaring a container
// port; Open Terminal on it (exec through kas in a Pseudoterminal) where a typed command's
// output appears; Port Forward on it, then an HTTP GET from the test to the local port it
// reports, the forward listed in the status bar and under the Agents view's Port Forwards node;
// Stop on that row frees the port and the node goes; a forward stopped from the command palette
// too. Screenshots go to .test-output/ui/.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentsPane, agentsWelcome, openAgentsContainer, runCommand, useCodeServer } from './code_server';

const run = promisify(execFile);

describe('extension UI: terminal and port-forward through kas', function () {
  this.timeout(180_000);
  // Each step builds on the one before: after a failure the rest would only time out.
  this.bail(true);
  const suite = useCodeServer();
  /** Rows of the Agents view only (the Managed Apps view lists the agent too). */
  const agentsRows = () => agentsPane(suite.vscode.page).locator('.monaco-list-row');
  const row = (text: string) => agentsRows().filter({ hasText: text }).first();
  const forwardRow = (port: number) => row(`127.0.0.1:${port} → default/ui-web:8080`);
  const statusBarForwards = () => suite.vscode.page.locator('.statusbar-item', { hasText: /\d+ port forwards?/ });
  /** Whether a TCP connection to the local port is refused (nothing listens there any more). */
  const refused = (port: number) =>
    fetch(`http://127.0.0.1:${port}/`).then(
      () => false,
      () => true,
    );

  /** Port Forward from the pod's context menu to a free local port; resolves with the port the toast reports. */
  async function startForward(): Promise<number> {
    const page = suite.vscode.page;
    await row('ui-web').click({ button: 'right' });
    await page.locator('.monaco-menu .action-label', { hasText: 'Port Forward' }).first().hover({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    await input.fill('0:8080');
    await input.press('Enter');
    const toast = page.locator('.notification-toast', { hasText: 'Forwarding 127.0.0.1:' }).last();
    await toast.waitFor({ timeout: 60_000 });
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(await toast.innerText())?.[1]);
    assert.ok(port > 0);
    // So that the next forward's toast is the only one.
    await runCommand(page, 'Notifications: Clear All Notifications');
    return port;
  }

  it('shows a pod with a container port under the local pair agent', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click();
    await row('local pair (dev)').waitFor({ timeout: 90_000 });
    await row('local pair (dev)').click();
    await row('1 connected').click({ timeout: 60_000 });
    await row('default').click({ timeout: 60_000 });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'ui-web', namespace: 'default' },
      spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 8080 }] }] },
    };
    const manifest = join(suite.dir, 'pod.json');
    await writeFile(manifest, JSON.stringify(pod));
    await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, 'create', '-f', manifest]);
    await agentsRows().filter({ hasText: 'ui-web' }).filter({ hasText: 'Running' }).first().waitFor({ timeout: 60_000 });
    await suite.vscode.screenshot('tree-pod-with-port');
  });

  it('Open Terminal: a typed command’s output appears in the terminal', async () => {
    const page = suite.vscode.page;
    const podRow = row('ui-web');
    await podRow.hover();
    await podRow.locator('.action-label[aria-label^="Open Terminal"]').click();
    const terminal = page.locator('.terminal-wrapper.active .xterm, .xterm').first();
    await terminal.waitFor({ timeout: 60_000 });
    // On a loaded machine the exec session may still be opening when the terminal shows: type the
    // command again until its output appears (the condition), each try given 20 s.
    const output = page.locator('.xterm-rows', { hasText: 'typed-in-ui-ui-web' }).first();
    for (let attempt = 1; ; attempt++) {
      await terminal.click();
      await page.keyboard.type('echo typed-in-ui-$(hostname)');
      await page.keyboard.press('Enter');
      try {
        await output.waitFor({ timeout: 20_000 });
        break;
      } catch (err) {
        if (attempt === 6) throw err;
      }
    }
    await suite.vscode.screenshot('terminal-through-kas');
  });

  let port = 0;

  it('Port Forward: the local port it reports answers an HTTP GET from the test, listed in the status bar and the tree', async () => {
    port = await startForward();
    const response = await fetch(`http://127.0.0.1:${port}/from-the-test`);
    assert.equal(await response.text(), 'ui-web web:8080 GET /from-the-test\n');
    await statusBarForwards().filter({ hasText: '1 port forward' }).waitFor({ timeout: 30_000 });
    await row('Port Forwards').filter({ hasText: '1' }).waitFor({ timeout: 30_000 });
    await forwardRow(port).filter({ hasText: 'active' }).waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('port-forward-through-kas');
  });

  it('Stop on the forward’s row under Port Forwards frees the local port; the node and the status bar item go', async () => {
    await forwardRow(port).hover();
    await suite.vscode.screenshot('port-forward-stop-inline');
    await forwardRow(port).locator('.action-label[aria-label^="Stop Port Forward"]').click();
    await row('Port Forwards').waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(await forwardRow(port).count(), 0);
    assert.ok(await refused(port), `127.0.0.1:${port} still answers after Stop`);
    await statusBarForwards().first().waitFor({ state: 'hidden', timeout: 30_000 });
    await suite.vscode.screenshot('port-forward-stopped');
  });

  it('Stop Port Forward from the command palette: pick the forward, and its port is freed', async () => {
    const page = suite.vscode.page;
    const second = await startForward();
    await forwardRow(second).waitFor({ timeout: 30_000 });
    await runCommand(page, 'Kubernetes Agents: Stop Port Forward');
    const choice = page.locator('.quick-input-widget .monaco-list-row', { hasText: `127.0.0.1:${second}` }).first();
    await choice.waitFor({ timeout: 30_000 });
    await choice.click();
    await row('Port Forwards').waitFor({ state: 'detached', timeout: 30_000 });
    assert.ok(await refused(second), `127.0.0.1:${second} still answers after Stop`);
    await statusBarForwards().first().waitFor({ state: 'hidden', timeout: 30_000 });
  });
});
