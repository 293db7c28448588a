// The local pair (`npm start`): dev cluster + config repository + kas + agentk on loopback, and
// a kubeconfig whose server is the kas k8s proxy, so real kubectl reaches the cluster through
// the tunnel. A second start reuses the data directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '../../../agent/internal/log';
import { startLocalPair, type LocalPair } from '../../../agent/devtools/local_pair/index';
import { runKubectl } from '../../support/kubectl';

const quietLogger = () => createLogger({}, { write: () => undefined });

describe('local pair', function () {
  this.timeout(120_000);
  let dataDir: string;
  let pair: LocalPair | undefined;

  before(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'local-pair-'));
  });

  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves kubectl through kas and agentk with the kubeconfig it writes, demo pods included', async () => {
    pair = await startLocalPair({ dataDir, freePorts: true, logger: quietLogger() });
    assert.match(readFileSync(pair.kubeconfigPath, 'utf8'), new RegExp(`token: pat:${pair.agentId}:kut_`));
    assert.equal(statSync(pair.kubeconfigPath).mode & 0o077, 0, 'the kubeconfig holds a token: owner-only');
    const pods = await runKubectl(['get', 'pods', '-A', '-o', 'name'], { kubeconfig: pair.kubeconfigPath });
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout, /pod\/web/);
    const agents = (await (
      await fetch(`${pair.apiUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${pair.userToken}` } })
    ).json()) as {
      agents: Array<{ name: string; config: { valid: boolean } }>;
    };
    assert.deepEqual(
      agents.agents.map((a) => [a.name, a.config.valid]),
      [['dev', true]],
    );
  });

  it('reuses the data directory on a second start: same agent, same user token, same cluster state', async () => {
    const first = await startLocalPair({ dataDir, freePorts: true, logger: quietLogger() });
    const made = await runKubectl(['create', 'namespace', 'kept-across-restarts'], { kubeconfig: first.kubeconfigPath });
    assert.equal(made.code, 0, made.stderr);
    await first.stop();
    pair = await startLocalPair({ dataDir, freePorts: true, logger: quietLogger() });
    assert.equal(pair.agentId, first.agentId);
    assert.equal(pair.userToken, first.userToken);
    const ns = await runKubectl(['get', 'namespace', 'kept-across-restarts', '-o', 'name'], { kubeconfig: pair.kubeconfigPath });
    assert.equal(ns.code, 0, ns.stderr);
  });

  it('runs as a program: prints a ready event with --json and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [path.join('dist', 'local-pair.js'), '--data-dir', dataDir, '--free-ports', '--json'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const lines = createInterface({ input: child.stdout });
      const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
        lines.once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
        child.once('exit', (code) => reject(new Error(`local pair exited early with ${code}`)));
      });
      assert.equal(ready.event, 'ready');
      assert.equal(ready.agentName, 'dev');
      const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(String(code ?? signal))));
      child.kill('SIGINT');
      assert.equal(await exited, '0');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
