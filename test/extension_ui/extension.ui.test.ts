// The extension inside a real VS Code (code-server + chromium), installed from the .vsix that
// `npm run package` builds. Screenshots go to .test-output/ui/.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DevCluster } from '../../agent/devtools/devcluster/index';
import { startDevCluster } from '../../agent/devtools/devcluster/index';
import { createLogger } from '../../agent/internal/log';
import {
  agentsPane,
  agentsWelcome,
  answerInput,
  expandRow,
  openAgentsContainer,
  OUTPUT_DIR,
  openFile,
  processesMentioning,
  readFilesMatching,
  runCommand,
  useCodeServer,
} from './code_server';

const run = promisify(execFile);

describe('extension UI in code-server', function () {
  this.timeout(120_000);
  const suite = useCodeServer({ workspaceFiles: { '.gitlab/agents/dev/config.yaml': 'user_acess:\n  access_as:\n    agent: {}\n' } });
  let cluster: DevCluster | undefined;

  before(async function () {
    this.timeout(60_000);
    cluster = await startDevCluster({ logger: createLogger({}, { level: 'error', write: () => undefined }) });
  });

  after(async () => {
    await cluster?.stop();
  });

  async function waitForCount(count: () => Promise<number>, atLeast: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    while ((await count()) < atLeast) {
      if (Date.now() > deadline) throw new Error(`fewer than ${atLeast} lines after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Waits for a line of the extension's log channel (a file in the extension host's logs). */
  async function waitForLog(pattern: RegExp): Promise<RegExpExecArray> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const files = await readFilesMatching(join(suite.vscode.userData, 'logs'), 'Kubernetes Agents.log');
      for (const file of files) {
        const match = pattern.exec(file.text);
        if (match) return match;
      }
      if (Date.now() > deadline)
        throw new Error(`no log line matching ${pattern} (log files: ${files.map((f) => f.path).join(', ') || 'none'})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('shows the Kubernetes Agents container with its welcome view when there is no connection', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    const welcome = agentsWelcome(page);
    await welcome.waitFor({ timeout: 60_000 });
    await welcome.getByRole('button', { name: 'Add Connection' }).waitFor();
    await welcome.getByRole('button', { name: 'Start Local Pair' }).waitFor();
    await page.locator('.pane-header', { hasText: 'Managed Apps' }).waitFor();
    await suite.vscode.screenshot('welcome-view');
  });

  it('activates from the view and logs its activation time to the extension log', async () => {
    const line = await waitForLog(/activated in ([\d.]+) ms \(([\d.]+) ms with module initialisation\)/);
    const [activationMs, withModuleMs] = [Number(line[1]), Number(line[2])];
    assert.ok(activationMs > 0 && withModuleMs >= activationMs);
    await mkdir(OUTPUT_DIR, { recursive: true });
    await writeFile(
      join(OUTPUT_DIR, 'activation.json'),
      JSON.stringify({ activationMs, withModuleMs, measuredAt: new Date().toISOString() }),
    );
  });

  it('Add Connection with a bad token shows a clear error notification and saves nothing', async () => {
    const page = suite.vscode.page;
    const caFile = join(suite.dir, 'ca.pem');
    await writeFile(caFile, cluster!.caPem);
    await agentsWelcome(page).getByRole('button', { name: 'Add Connection' }).click();
    await answerInput(page, '(1/4)', `${cluster!.url}/`);
    await answerInput(page, '(2/4)', `${cluster!.url}/`);
    await answerInput(page, '(3/4)', 'not-a-valid-token');
    await answerInput(page, '(4/4)', caFile);
    const toast = page.locator('.notification-toast', { hasText: 'Could not connect' }).first();
    await toast.waitFor({ timeout: 60_000 });
    const text = await toast.innerText();
    assert.match(text, /UNAUTHORIZED/);
    assert.ok(!text.includes('not-a-valid-token'), 'the token must not appear in the notification');
    await page.waitForTimeout(600); // let the toast finish sliding in, for a readable screenshot
    await suite.vscode.screenshot('bad-token-error');
    // Nothing was saved: the welcome view is still there.
    await agentsWelcome(page).waitFor();
    await waitForLog(/add connection to .* failed: KAS_UNAUTHORIZED/);
    await runCommand(page, 'Notifications: Clear All Notifications');
    const logs = await readFilesMatching(suite.vscode.userData, '');
    assert.ok(!logs.some((f) => f.text.includes('not-a-valid-token')), 'no log or state file may contain the token');
  });

  it('flags a mistake in an agent config as you open it, and its quick fix repairs it', async () => {
    const page = suite.vscode.page;
    await openFile(page, 'config.yaml');
    const editor = page.locator('.monaco-editor[data-uri$="config.yaml"]');
    await editor.locator('.squiggly-error').first().waitFor({ timeout: 60_000 });
    await page.locator('#status\\.problems').click();
    await page.locator('.markers-panel', { hasText: 'Unknown key "user_acess"' }).waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('agent-config-problem');
    await editor.locator('.view-line').first().click();
    // The fix is marked preferred, so Auto Fix applies it directly.
    await runCommand(page, 'Auto Fix...');
    await editor.locator('.view-line', { hasText: 'user_access:' }).waitFor({ timeout: 30_000 });
    await editor.locator('.squiggly-error').first().waitFor({ state: 'detached', timeout: 30_000 });
    await runCommand(page, 'View: Close All Editors');
    await openAgentsContainer(page);
  });

  describe('with the local pair', () => {
    const row = (text: string) => agentsPane(suite.vscode.page).locator('.monaco-list-row', { hasText: text }).first();

    it('Start Local Pair registers a connection whose agent dev is connected', async () => {
      const page = suite.vscode.page;
      await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click();
      await row('local pair (dev)').waitFor({ timeout: 90_000 });
      await expandRow(row('local pair (dev)'));
      const agent = agentsPane(page).locator('.monaco-list-row', { hasText: /^dev/ }).filter({ hasText: 'connected' }).first();
      await agent.waitFor({ timeout: 60_000 });
      await agentsPane(page).locator('.monaco-list-row', { hasText: '1 connected' }).first().waitFor({ timeout: 60_000 });
      await suite.vscode.screenshot('local-pair-agent-connected');
    });

    it("Open Agent Config from the agent's context menu opens its config.yaml (the workspace copy comes first)", async () => {
      const page = suite.vscode.page;
      await agentsPane(page).locator('.monaco-list-row', { hasText: '1 connected' }).first().click({ button: 'right' });
      // The web context menu acts on keyboard confirmation of the item under the pointer.
      await page.locator('.monaco-menu .action-label', { hasText: 'Open Agent Config' }).first().hover({ timeout: 30_000 });
      await page.keyboard.press('Enter');
      await page.locator('.tab', { hasText: 'config.yaml' }).first().waitFor({ timeout: 30_000 });
      await page.locator('.monaco-editor[data-uri$=".gitlab/agents/dev/config.yaml"]').waitFor({ timeout: 30_000 });
      await suite.vscode.screenshot('open-agent-config');
      await runCommand(page, 'View: Close All Editors');
    });

    it("Add Connection to the pair's kas with a bad token says the token was refused", async () => {
      const page = suite.vscode.page;
      const [, apiUrl, proxyUrl] = await waitForLog(/local pair ready: kas API (\S+) k8s proxy (\S+)/);
      await runCommand(page, 'Kubernetes Agents: Connect: Add Connection…');
      await answerInput(page, '(1/4)', apiUrl!);
      await answerInput(page, '(2/4)', proxyUrl!);
      await answerInput(page, '(3/4)', 'wrong-token');
      await answerInput(page, '(4/4)', join(suite.localPairKubeconfig, '..', 'kas-tls', 'ca.crt'));
      const toast = page.locator('.notification-toast', { hasText: `Could not connect to ${apiUrl}` }).first();
      await toast.waitFor({ timeout: 60_000 });
      assert.match(await toast.innerText(), /the token was refused/);
      await page.waitForTimeout(600); // let the toast finish sliding in, for a readable screenshot
      await suite.vscode.screenshot('local-pair-bad-token');
      await runCommand(page, 'Notifications: Clear All Notifications');
    });

    it('expanding the agent reaches a pod created through kas, shown live through watch', async () => {
      const page = suite.vscode.page;
      await expandRow(agentsPane(page).locator('.monaco-list-row', { hasText: '1 connected' }).first());
      await expandRow(row('default'));
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'ui-logger', namespace: 'default' },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'sim',
              env: [
                { name: 'SIM_LINES', value: '100000' },
                { name: 'SIM_MESSAGE', value: 'INFO hello from ui {n}' },
                { name: 'SIM_LINE_INTERVAL_MS', value: '200' },
                { name: 'SIM_DURATION_SECONDS', value: 'forever' },
              ],
            },
          ],
        },
      };
      const manifest = join(suite.dir, 'pod.json');
      await writeFile(manifest, JSON.stringify(pod));
      await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, 'create', '-f', manifest]);
      await row('ui-logger').waitFor({ timeout: 60_000 });
      await page.locator('.monaco-list-row', { hasText: 'ui-logger' }).filter({ hasText: 'Running' }).first().waitFor({ timeout: 60_000 });
      await suite.vscode.screenshot('local-pair-pods');
    });

    it("Show Pod Logs streams the pod's lines into the log view", async () => {
      const page = suite.vscode.page;
      const podRow = row('ui-logger');
      await podRow.hover();
      await podRow.locator('.action-label[aria-label^="Show Pod Logs"]').click();
      const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      await view.locator('#log .line', { hasText: 'hello from ui 3' }).waitFor({ timeout: 60_000 });
      assert.match(await view.locator('#state').innerText(), /Streaming/);
      assert.equal(await view.locator('#log .line span.level-info').first().innerText(), 'INFO');
      await suite.vscode.screenshot('pod-logs');
    });

    it('the log view filters, pauses and resumes, and says so when the pod is deleted', async () => {
      const view = suite.vscode.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      await view.locator('#filter').fill('hello from ui 2');
      await view.locator('#log .line', { hasText: 'hello from ui 3' }).waitFor({ state: 'detached' });
      assert.ok((await view.locator('#log .line').count()) >= 1, 'the matching line stays');
      await view.locator('#filter').fill('');
      await view.locator('#pause').click();
      const paused = await view.locator('#log .line').count();
      await new Promise((r) => setTimeout(r, 1000)); // lines keep arriving every 200 ms meanwhile
      assert.equal(await view.locator('#log .line').count(), paused, 'nothing is appended while paused');
      await view.locator('#pause').click();
      await waitForCount(() => view.locator('#log .line').count(), paused + 3);
      await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, 'delete', 'pod', 'ui-logger', '--wait=false']);
      await view.locator('#state', { hasText: 'Pod deleted' }).waitFor({ timeout: 60_000 });
      await suite.vscode.screenshot('pod-logs-deleted');
    });

    it('the Managed Apps view shows an app installing, from its install pod', async () => {
      const page = suite.vscode.page;
      const manifest = join(suite.dir, 'managed.json');
      await writeFile(
        manifest,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gitlab-managed-apps' } },
            {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: {
                name: 'install-helm',
                namespace: 'gitlab-managed-apps',
                labels: { 'gitlab.org/action': 'install', 'gitlab.org/application': 'helm' },
              },
              spec: {
                restartPolicy: 'Never',
                containers: [{ name: 'helm', image: 'sim', env: [{ name: 'SIM_DURATION_SECONDS', value: 'forever' }] }],
              },
            },
          ],
        }),
      );
      await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, 'create', '-f', manifest]);
      const appsPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Managed Apps' }) });
      await appsPane.locator('.monaco-list-row', { hasText: 'dev' }).first().click();
      await appsPane.locator('.monaco-list-row', { hasText: 'helm' }).filter({ hasText: 'installing' }).waitFor({ timeout: 60_000 });
      await suite.vscode.screenshot('managed-apps');
    });

    /** Runs an item's context-menu command (the web menu acts on Enter over the hovered item). */
    async function contextCommand(item: ReturnType<typeof row>, command: string): Promise<void> {
      await item.click({ button: 'right' });
      await suite.vscode.page.locator('.monaco-menu .action-label', { hasText: command }).first().hover({ timeout: 30_000 });
      await suite.vscode.page.keyboard.press('Enter');
    }

    it('Copy Kubeconfig on agent dev puts a kubeconfig on the clipboard that real kubectl uses through kas', async () => {
      const page = suite.vscode.page;
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
      await page.evaluate(() => navigator.clipboard.writeText('nothing copied yet'));
      await contextCommand(agentsPane(page).locator('.monaco-list-row', { hasText: '1 connected' }).first(), 'Copy Kubeconfig');
      await page.locator('.notification-toast', { hasText: 'Kubeconfig for agent dev copied' }).first().waitFor({ timeout: 30_000 });
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.match(copied, /server: "https:\/\/127\.0\.0\.1:\d+\/k8s-proxy\/?"/, 'the server is the kas k8s proxy');
      assert.match(copied, /token: "pat:\d+:/);
      const file = join(suite.dir, 'copied-kubeconfig');
      await writeFile(file, copied, { mode: 0o600 });
      const { stdout } = await run('kubectl', ['--kubeconfig', file, 'get', 'pods', '-A']);
      assert.match(stdout, /gitlab-managed-apps\s+install-helm/, "kubectl lists the cluster's pods through kas");
      await page.waitForTimeout(600); // let the toast finish sliding in, for a readable screenshot
      await suite.vscode.screenshot('copy-kubeconfig');
      await runCommand(page, 'Notifications: Clear All Notifications');
    });

    it('Delete Pod asks first, then the pod vanishes from the tree (through watch)', async () => {
      const page = suite.vscode.page;
      const manifest = join(suite.dir, 'doomed.json');
      await writeFile(
        manifest,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'ui-doomed', namespace: 'default' },
          spec: { containers: [{ name: 'main', image: 'sim', env: [{ name: 'SIM_DURATION_SECONDS', value: 'forever' }] }] },
        }),
      );
      await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, 'create', '-f', manifest]);
      const doomed = row('ui-doomed');
      await doomed.waitFor({ timeout: 60_000 });
      await contextCommand(doomed, 'Delete Pod');
      const dialog = page.locator('.monaco-dialog-box', { hasText: 'Delete pod default/ui-doomed?' });
      await dialog.waitFor({ timeout: 30_000 });
      await suite.vscode.screenshot('delete-pod-confirm');
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await page.locator('.notification-toast', { hasText: 'Pod default/ui-doomed deleted.' }).first().waitFor({ timeout: 30_000 });
      await page.locator('.monaco-list-row[role="treeitem"]', { hasText: 'ui-doomed' }).waitFor({ state: 'detached', timeout: 60_000 });
      const left = await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, 'get', 'pods', '-n', 'default', '-o', 'name']);
      assert.ok(!left.stdout.includes('ui-doomed'), 'the cluster no longer has the pod');
      await suite.vscode.screenshot('delete-pod-gone');
    });

    it('Stop Local Pair removes its connection and stops the processes', async () => {
      const page = suite.vscode.page;
      await runCommand(page, 'Kubernetes Agents: Stop Local Pair');
      await agentsWelcome(page).waitFor({ timeout: 60_000 });
      assert.ok(existsSync(suite.localPairKubeconfig), 'the pair kept its state in the extension storage');
      const dataDir = join(suite.localPairKubeconfig, '..');
      const deadline = Date.now() + 20_000;
      while ((await processesMentioning(dataDir)).length > 0) {
        assert.ok(Date.now() < deadline, 'the local pair process exited');
        await new Promise((r) => setTimeout(r, 200));
      }
    });
  });
});
