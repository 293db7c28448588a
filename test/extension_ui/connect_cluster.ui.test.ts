// Connect a Cluster in a real VS Code (code-server + chromium), against the local pair the
// extension starts: a new agent is named (a bad name refused in the input box), kas registers it
// and makes its token, the manifest opens as YAML, Apply (after the modal confirmation) puts it
// into the current kubeconfig context (the pair's dev cluster), then agentk is run as the
// kubelet would run the applied Deployment: the built dist/agentk.js with the Deployment's
// --kas-address and the token from the applied Secret. The tree then shows the agent connected.
import { strict as assert } from 'node:assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { agentsWelcome, answerInput, openAgentsContainer, readFilesMatching, REPO, runCommand, useCodeServer } from './code_server';

const run = promisify(execFile);
const AGENT = 'staging';

describe('Connect a Cluster in code-server', function () {
  this.timeout(240_000);
  let agentk: ChildProcess | undefined;
  // Registered before useCodeServer's: agentk ends before the local pair's kas it is connected to.
  after(async () => {
    if (agentk && agentk.exitCode === null) {
      const exited = new Promise((r) => agentk!.once('exit', r));
      agentk.kill('SIGTERM');
      await exited;
    }
  });
  // The user's "current kubeconfig context": filled with the pair's dev cluster once it runs.
  const suite = useCodeServer({ stopLocalPair: true, env: (dir) => ({ KUBECONFIG: join(dir, 'kubeconfig') }) });
  const currentKubeconfig = () => join(suite.dir, 'kubeconfig');
  const clusterKubeconfig = () => join(dirname(suite.localPairKubeconfig), 'devcluster', 'kubeconfig');
  const kubectl = async (...args: string[]) => (await run('kubectl', ['--kubeconfig', clusterKubeconfig(), ...args])).stdout;

  it('registers a new agent, shows and applies its manifest, and shows it connected once its agentk runs', async () => {
    const page = suite.vscode.page;
    await openAgentsContainer(page);
    await agentsWelcome(page).getByRole('button', { name: 'Start Local Pair' }).click({ timeout: 60_000 });
    await page.locator('.monaco-list-row', { hasText: 'local pair (dev)' }).first().waitFor({ timeout: 90_000 });
    await page.locator('.monaco-list-row', { hasText: 'local pair (dev)' }).first().click();
    await copyFile(clusterKubeconfig(), currentKubeconfig());

    await runCommand(page, 'Kubernetes Agents: Connect a Cluster…');
    await answerInput(page, '(1/2)', 'Register a new agent');
    const title = page.locator('.quick-input-widget .quick-input-title', { hasText: '(2/2)' });
    await title.waitFor({ state: 'visible', timeout: 30_000 });
    const input = page.locator('.quick-input-widget input.input');
    await input.fill('Bad_Name');
    await page.locator('.quick-input-widget .quick-input-message', { hasText: 'must be a DNS label' }).waitFor({ timeout: 30_000 });
    await suite.vscode.screenshot('connect-cluster-bad-name');
    await input.fill('dev');
    await page.locator('.quick-input-widget .quick-input-message', { hasText: 'exists already' }).waitFor({ timeout: 30_000 });
    await input.fill(AGENT);
    await input.press('Enter');

    await page
      .locator('.monaco-editor .view-line', { hasText: `agentk for agent "${AGENT}"` })
      .first()
      .waitFor({ timeout: 60_000 });
    await page.locator('.monaco-editor .view-line', { hasText: 'kind: Namespace' }).first().waitFor({ timeout: 30_000 });
    const offer = page.locator('.notification-toast', { hasText: `Agent "${AGENT}" has a new token` }).first();
    await offer.waitFor({ timeout: 30_000 });
    await page.waitForTimeout(600); // let the toast finish sliding in, for a readable screenshot
    await suite.vscode.screenshot('connect-cluster-manifest');
    await offer.getByRole('button', { name: 'Apply to Current Context…' }).click();
    const dialog = page.locator('.monaco-dialog-box', { hasText: `Apply the agentk manifest for agent "${AGENT}"` });
    await dialog.waitFor({ timeout: 30_000 });
    assert.match(await dialog.innerText(), /devcluster/);
    await suite.vscode.screenshot('connect-cluster-confirm-apply');
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.notification-toast', { hasText: 'waiting for agentk to connect' }).first().waitFor({ timeout: 60_000 });

    // What the kubelet would run: the applied Deployment's container, with the applied Secret's token.
    const args = JSON.parse(
      await kubectl(
        '-n',
        'gitlab-agent',
        'get',
        'deployment',
        `gitlab-agent-${AGENT}`,
        '-o',
        'jsonpath={.spec.template.spec.containers[0].args}',
      ),
    ) as string[];
    const kasAddress = args.find((a) => a.startsWith('--kas-address='))!.slice('--kas-address='.length);
    const token = Buffer.from(
      await kubectl('-n', 'gitlab-agent', 'get', 'secret', `gitlab-agent-${AGENT}-token`, '-o', 'jsonpath={.data.token}'),
      'base64',
    ).toString();
    assert.match(token, /^kat_/);
    const tokenFile = join(suite.dir, 'token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    let agentkLog = '';
    agentk = spawn(
      process.execPath,
      [
        join(REPO, 'dist', 'agentk.js'),
        `--kas-address=${kasAddress}`,
        `--token-file=${tokenFile}`,
        `--kubeconfig=${clusterKubeconfig()}`,
        '--observability-listen-address=127.0.0.1:0',
      ],
      { env: { ...process.env, POD_NAME: `gitlab-agent-${AGENT}-0`, POD_NAMESPACE: 'gitlab-agent' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    agentk.stdout!.on('data', (d: Buffer) => (agentkLog += d.toString()));
    agentk.stderr!.on('data', (d: Buffer) => (agentkLog += d.toString()));

    await page
      .locator('.notification-toast', { hasText: `Agent "${AGENT}" is connected` })
      .first()
      .waitFor({ timeout: 90_000 })
      .catch((err: Error) => {
        throw new Error(`${err.message}\nagentk said:\n${agentkLog}`);
      });
    // The tree follows: the agent's row turns from "not connected" to "1 connected".
    const agents = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^Agents/ }) });
    await agents.locator('.monaco-list-row', { hasText: AGENT }).filter({ hasText: '1 connected' }).first().waitFor({ timeout: 60_000 });
    await page.waitForTimeout(600);
    await suite.vscode.screenshot('connect-cluster-agent-connected');

    const logs = await readFilesMatching(join(suite.vscode.userData, 'logs'), '');
    assert.ok(!logs.some((f) => f.text.includes(token)), 'the agent token is in no log');
    assert.ok(!agentkLog.includes(token), 'agentk never logs its token');
  });
});
