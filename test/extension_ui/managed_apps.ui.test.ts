// Managed apps in a real VS Code (code-server + chromium): with the local pair started from the
// welcome view, an app is installed from the Managed Apps view (values in an editor tab named
// after the app, edited there, Install on the notification), its helm log streams into the log
// view, the view reaches `installed`, and the values ConfigMap holds the edited values.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { agentsWelcome, openAgentsContainer, useCodeServer } from './code_server';

const run = promisify(execFile);

describe('managed apps UI in code-server', function () {
  this.timeout(180_000);
  const suite = useCodeServer({ stopLocalPair: true });

  it('installs Crossplane from the Managed Apps view: values editor, live helm log, state installed', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click({ timeout: 60_000 });
    const appsPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Managed Apps' }) });
    await appsPane.locator('.monaco-list-row', { hasText: 'dev' }).first().click({ timeout: 90_000 });
    const app = appsPane.locator('.monaco-list-row', { hasText: 'Crossplane' }).first();
    await app.filter({ hasText: 'installable' }).waitFor({ timeout: 60_000 });
    await app.hover();
    await app.locator('.action-label[aria-label^="Managed Apps: Install"]').click();

    const prompt = page.locator('.notification-toast', { hasText: 'edit the values, then choose Install' }).first();
    await prompt.waitFor({ timeout: 30_000 });
    // The tab is named after the app, not after the values' first line ("replicas: 1 Untitled-1").
    const tab = page.locator('.tabs-container .tab', { hasText: 'crossplane-values.yaml' });
    await tab.waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('.tabs-container .tab', { hasText: 'Untitled' }).count(), 0);
    const replicas = page.locator('.monaco-editor .view-line', { hasText: 'replicas: 1' }).first();
    await replicas.waitFor({ timeout: 30_000 });
    await replicas.click();
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('2');
    await page.locator('.monaco-editor .view-line', { hasText: 'replicas: 2' }).first().waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('managed-app-values-tab');
    await prompt.getByRole('button', { name: 'Install' }).click();

    const view = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await view.locator('#log .line', { hasText: '"crossplane-stable" has been added to your repositories' }).waitFor({ timeout: 60_000 });
    await view.locator('#log .line', { hasText: 'STATUS: deployed' }).waitFor({ timeout: 60_000 });
    await suite.vscode.screenshot('managed-app-install-log');
    await appsPane
      .locator('.monaco-list-row', { hasText: 'Crossplane' })
      .filter({ hasText: 'installed 1.15.2' })
      .first()
      .waitFor({ timeout: 60_000 });
    await suite.vscode.screenshot('managed-app-installed');
    const { stdout } = await run('kubectl', [
      '--kubeconfig',
      suite.localPairKubeconfig,
      '-n',
      'gitlab-managed-apps',
      'get',
      'configmap',
      'values-content-configuration-crossplane',
      '-o',
      'jsonpath={.data.values\\.yaml}',
    ]);
    assert.match(stdout, /^replicas: 2$/m, 'install used the edited values');
  });
});
