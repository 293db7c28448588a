// In a real VS Code (code-server + chromium), with the local pair: a Deployment's YAML file in the
// workspace, its replica count edited in the editor, "Apply to Cluster" shows the server-side
// dry-run diff in the diff editor (after a 409 naming kubectl create's fields, forced), the modal confirmation applies it, and the Deployment scales.
// Screenshots go to .test-output/ui/.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { agentsPane, agentsWelcome, expandRow, openAgentsContainer, openFile, runCommand, useCodeServer } from './code_server';

const run = promisify(execFile);

const DEPLOYMENT = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ui-apply
  namespace: default
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ui-apply}
  template:
    metadata:
      labels: {app: ui-apply}
    spec:
      containers:
      - name: app
        image: nginx:1
`;

describe('extension UI: edit a YAML file, see the dry-run diff, apply', function () {
  this.timeout(240_000);
  const suite = useCodeServer({ workspaceFiles: { 'web.yaml': DEPLOYMENT(1) } });
  const row = (text: string) => agentsPane(suite.vscode.page).locator('.monaco-list-row').filter({ hasText: text }).first();
  const kubectl = async (...args: string[]) => (await run('kubectl', ['--kubeconfig', suite.localPairKubeconfig, ...args])).stdout;

  it('applies an edited replica count through the diff editor and the Deployment scales', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click();
    await row('local pair (dev)').waitFor({ timeout: 90_000 });
    await expandRow(row('local pair (dev)'));
    await row('1 connected').waitFor({ timeout: 60_000 });
    await kubectl('create', '-f', join(suite.vscode.workspace, 'web.yaml'));

    await openFile(page, 'web.yaml');
    const editor = page.locator('.monaco-editor[data-uri$="web.yaml"]').first();
    await editor.waitFor({ timeout: 30_000 });
    await editor.locator('.view-line', { hasText: 'replicas: 1' }).click();
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('3');
    await editor.locator('.view-line', { hasText: 'replicas: 3' }).waitFor({ timeout: 10_000 });

    await runCommand(page, 'Kubernetes Agents: Apply to Cluster (server-side, with diff)');
    // kubectl create set these fields: the dry run meets a 409 naming them; Force takes them over.
    const conflict = page.locator('.monaco-dialog-box', { hasText: 'conflicts with fields another manager set' });
    await conflict.waitFor({ timeout: 60_000 });
    assert.match((await conflict.textContent()) ?? '', /\.spec\.replicas \(owned by kubectl-create\)/);
    await suite.vscode.screenshot('apply-conflict');
    await conflict.getByRole('button', { name: 'Force Apply' }).click();
    const diff = page.locator('.monaco-diff-editor').first();
    const failure = page.locator('.notification-toast', { hasText: 'Apply to Cluster failed' }).first();
    await Promise.race([diff.waitFor({ timeout: 60_000 }), failure.waitFor({ timeout: 60_000 })]);
    assert.equal(await failure.isVisible(), false, (await failure.textContent().catch(() => '')) ?? '');
    await diff.locator('.view-line', { hasText: 'replicas: 3' }).first().waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('apply-dry-run-diff');
    const dialog = page.locator('.monaco-dialog-box', { hasText: 'Apply to' });
    await dialog.waitFor({ timeout: 30_000 });
    assert.match((await dialog.textContent()) ?? '', /change Deployment default\/ui-apply/);
    await dialog.getByRole('button', { name: 'Apply' }).click();

    for (;;) {
      const ready = await kubectl('get', 'deployment', 'ui-apply', '-o', 'jsonpath={.spec.replicas}/{.status.readyReplicas}');
      if (ready === '3/3') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await page.locator('.notifications-toasts', { hasText: 'Applied Deployment default/ui-apply' }).waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('apply-scaled');
  });
});
