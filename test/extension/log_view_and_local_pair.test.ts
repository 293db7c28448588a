// The log view page's security policy, and the local pair run as the extension runs it.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { buildKubeconfig } from '../../extension/src/commands/kubeconfig';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalPairProcess } from '../../extension/src/local_pair/local_pair_process';
import { KasApi } from '../../extension/src/kas_client/kas_api';
import { readCaFile } from '../../extension/src/kas_client/http';
import { formatProxyCredential } from '../../agent/shared/proxy_credential';
import { kubeClientFor } from '../../extension/src/kube/load';
import { logViewHtml } from '../../extension/src/logs/log_view_html';

describe('extension log view page', () => {
  it('allows only nonce-carrying script and style, nothing inline or remote', () => {
    const html = logViewHtml('vscode-resource:', 'NONCE123', 'vscode-resource:/dist/webviews/logview.js');
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-NONCE123'/);
    assert.match(csp, /style-src 'nonce-NONCE123'/);
    assert.ok(!csp.includes('unsafe'), 'no unsafe-inline or unsafe-eval');
    const scripts = html.match(/<script[^>]*>/g) ?? [];
    assert.ok(scripts.length > 0 && scripts.every((tag) => tag.includes('nonce="NONCE123"')));
  });
});

describe('extension local pair process', function () {
  const script = resolve(__dirname, '..', '..', 'dist', 'local-pair.js');
  let dir = '';
  let pair: LocalPairProcess | undefined;
  const output: string[] = [];

  before(async function () {
    if (!existsSync(script)) this.skip(); // built by npm test / npm run build
    dir = await mkdtemp(join(tmpdir(), 'ext-local-pair-'));
  });
  after(async () => {
    await pair?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts, reports kas URLs and a token that kas and kubectl (copied kubeconfig) accept, never prints the token, and stops', async function () {
    this.timeout(90_000);
    pair = new LocalPairProcess(script, (line) => output.push(line), ['--json', '--free-ports', '--data-dir', dir]);
    const ready = await pair.ready;
    assert.equal(ready.agentName, 'dev');
    const caPem = await readCaFile(ready.caFile);
    const agents = await new KasApi({ baseUrl: ready.apiUrl, authorization: `Bearer ${ready.userToken}`, caPem }).agents();
    assert.ok(agents.some((a) => a.name === 'dev'));
    const namespaces = await (
      await kubeClientFor({ server: ready.k8sProxyUrl, token: formatProxyCredential('pat', ready.agentId, ready.userToken), caPem })
    ).listNamespaces();
    assert.ok(namespaces.includes('default'));
    // Copy Kubeconfig's output works with real kubectl through kas.
    const kubeconfig = join(dir, 'copied-kubeconfig');
    await writeFile(
      kubeconfig,
      buildKubeconfig({ contextName: 'local-dev', server: ready.k8sProxyUrl, caPem, token: `pat:${ready.agentId}:${ready.userToken}` }),
    );
    const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, 'get', 'namespaces', '-o', 'name']);
    assert.match(stdout, /namespace\/default/);
    await pair.stop();
    assert.equal(pair.running, false);
    assert.ok(output.length > 0);
    assert.ok(!output.some((line) => line.includes(ready.userToken)), 'the token never reaches the output channel');
  });
});
