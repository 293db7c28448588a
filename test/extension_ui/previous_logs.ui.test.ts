// In a real VS Code (code-server + chromium), with the local pair: Show Previous Logs from the
// command palette, on a pod whose container restarted. The picks run agent (skipped: the local
// pair is the one agent) → namespace → pod → container (the pod has two), and the log view
// shows the lines of the container's instance before its restart. Screenshots go to .test-output/ui/.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentsPane, agentsWelcome, openAgentsContainer, runCommand, useCodeServer } from './code_server';

const run = promisify(execFile);

describe('extension UI: Show Previous Logs from the command palette', function () {
  this.timeout(180_000);
  const suite = useCodeServer();
  const row = (text: string) => agentsPane(suite.vscode.page).locator('.monaco-list-row').filter({ hasText: text }).first();
  const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, ...args]);

  it("picks agent → namespace → pod → container, and the view shows the previous instance's lines", async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click();
    await row('local pair (dev)').waitFor({ timeout: 90_000 });
    // The palette's agent step lists the agents the view has read.
    await row('local pair (dev)').click();
    await row('1 connected').waitFor({ timeout: 60_000 });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'ui-restarter', namespace: 'default' },
      spec: {
        restartPolicy: 'Always',
        containers: [
          {
            name: 'crasher',
            image: 'sim',
            env: [
              { name: 'SIM_LINES', value: '3' },
              { name: 'SIM_MESSAGE', value: 'line {n} before the crash' },
              { name: 'SIM_LINE_INTERVAL_MS', value: '100' },
              { name: 'SIM_EXIT_CODE', value: '1' },
            ],
          },
          { name: 'sidecar', image: 'sim', env: [{ name: 'SIM_DURATION_SECONDS', value: 'forever' }] },
        ],
      },
    };
    const manifest = join(suite.dir, 'pod.json');
    await writeFile(manifest, JSON.stringify(pod));
    await kubectl('create', '-f', manifest);
    const restarts = async () =>
      Number(
        (
          await kubectl(
            'get',
            'pod',
            'ui-restarter',
            '-n',
            'default',
            '-o',
            'jsonpath={.status.containerStatuses[?(@.name=="crasher")].restartCount}',
          )
        ).stdout || 0,
      );
    const deadline = Date.now() + 60_000;
    while ((await restarts()) < 1) {
      if (Date.now() > deadline) throw new Error('the crasher container did not restart within 60 s');
      await new Promise((r) => setTimeout(r, 500));
    }

    await runCommand(page, 'Kubernetes Agents: Show Previous Logs');
    const pick = async (title: string, item: string) => {
      await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout: 30_000 });
      const choice = page.locator('.quick-input-widget .monaco-list-row', { hasText: item }).first();
      await choice.waitFor({ timeout: 30_000 });
      await choice.click();
    };
    await pick('Previous Logs: namespace (agent dev)', 'default');
    await pick('Previous Logs: pod in default', 'ui-restarter');
    await suite.vscode.screenshot('previous-logs-pod-pick');
    await pick('Previous Logs: container of ui-restarter', 'crasher');

    const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await view.locator('#log .line', { hasText: 'line 3 before the crash' }).waitFor({ timeout: 60_000 });
    assert.deepEqual((await view.locator('#log .line').allTextContents()).slice(0, 3), [
      'line 1 before the crash',
      'line 2 before the crash',
      'line 3 before the crash',
    ]);
    assert.match((await view.locator('#title').textContent()) ?? '', /^default\/ui-restarter · crasher \(previous instance\)$/);
    await suite.vscode.screenshot('previous-logs');
  });
});
