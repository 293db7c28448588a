// In a real VS Code (code-server + chromium), with the local pair: a pod declaring a container
// port; Open Terminal on it (exec through kas in a Pseudoterminal) where a typed command's
// output appears; Port Forward on it, then an HTTP GET from the test to the local port it
// reports. Screenshots go to .test-output/ui/.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentsWelcome, CodeServer, openAgentsContainer, prepareArtifacts, startCodeServer } from './code_server';

const run = promisify(execFile);

describe('extension UI: terminal and port-forward through kas', function () {
  this.timeout(180_000);
  let vscode: CodeServer | undefined;
  let dir = '';
  /** Rows of the Agents view only (the Managed Apps view lists the agent too). */
  const agentsRows = () =>
    vscode!.page
      .locator('.pane')
      .filter({ has: vscode!.page.locator('.pane-header', { hasText: /^\s*agents/i }) })
      .locator('.monaco-list-row');
  const row = (text: string) => agentsRows().filter({ hasText: text }).first();
  const kubeconfig = () =>
    join(vscode!.userData, 'User', 'globalStorage', 'agent-workbench.kubernetes-agent-workbench', 'local-pair', 'kubeconfig');

  before(async function () {
    this.timeout(600_000);
    dir = await mkdtemp(join(tmpdir(), 'ui-stream-test-'));
    vscode = await startCodeServer(await prepareArtifacts());
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && vscode) {
      await vscode.screenshot(`failed-${this.currentTest.title.replace(/\W+/g, '-')}`).catch(() => undefined);
    }
  });
  after(async () => {
    await vscode?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows a pod with a container port under the local pair agent', async () => {
    const page = vscode!.page;
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
    const manifest = join(dir, 'pod.json');
    await writeFile(manifest, JSON.stringify(pod));
    await run('kubectl', ['--kubeconfig', kubeconfig(), 'create', '-f', manifest]);
    await agentsRows().filter({ hasText: 'ui-web' }).filter({ hasText: 'Running' }).first().waitFor({ timeout: 60_000 });
    await vscode!.screenshot('tree-pod-with-port');
  });

  it('Open Terminal: a typed command’s output appears in the terminal', async () => {
    const page = vscode!.page;
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
    await vscode!.screenshot('terminal-through-kas');
  });

  it('Port Forward: the local port it reports answers an HTTP GET from the test', async () => {
    const page = vscode!.page;
    await row('ui-web').click({ button: 'right' });
    await page.locator('.monaco-menu .action-label', { hasText: 'Port Forward' }).first().hover({ timeout: 30_000 });
    await page.keyboard.press('Enter');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    await input.fill('0:8080');
    await input.press('Enter');
    const toast = page.locator('.notification-toast', { hasText: 'Forwarding 127.0.0.1:' }).first();
    await toast.waitFor({ timeout: 60_000 });
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(await toast.innerText())?.[1]);
    assert.ok(port > 0);
    const response = await fetch(`http://127.0.0.1:${port}/from-the-test`);
    assert.equal(await response.text(), 'ui-web web:8080 GET /from-the-test\n');
    await page.locator('.statusbar-item', { hasText: '1 port forward' }).first().waitFor({ timeout: 30_000 });
    await vscode!.screenshot('port-forward-through-kas');
  });
});
