// State across restarts (objects, counter, tokens, TLS), seed files, and the kas-devcluster
// command itself.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runKubectl } from '../../support/kubectl';
import { makeTempDir, request, startTestCluster, type TestCluster } from '../../support/devcluster';

const REPO = path.resolve(__dirname, '../../..');

describe('devcluster persistence, seed file and kas-devcluster command', function () {
  let dir: string;
  let running: TestCluster | undefined;
  let child: ChildProcess | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    child = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps objects, the resourceVersion counter, tokens and the kubeconfig valid across a restart', async () => {
    running = await startTestCluster({ dir });
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept' }, data: { a: '1' } });
    const created = (await request(running.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body })).json() as {
      metadata: { uid: string; resourceVersion: string };
    };
    await running.cluster.addToken('bob-token', { username: 'bob', groups: ['system:masters'] });
    const credentials = async () =>
      (await fs.readFile(running!.kubeconfig, 'utf8')).split('\n').filter((l) => /certificate-authority-data|token:/.test(l));
    const firstCredentials = await credentials();
    await running.stop();

    running = await startTestCluster({ dir });
    const kept = await runKubectl(['get', 'configmap', 'kept', '-o', 'jsonpath={.metadata.uid} {.data.a}'], {
      kubeconfig: running.kubeconfig,
    });
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(kept.stdout, `${created.metadata.uid} 1`);
    assert.equal((await request(running.cluster, 'GET', '/api/v1/namespaces', { token: 'bob-token' })).status, 200);
    const next = (
      await request(running.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body: body.replace('kept', 'next') })
    ).json() as { metadata: { resourceVersion: string } };
    assert.ok(Number(next.metadata.resourceVersion) > Number(created.metadata.resourceVersion), 'the counter continues');
    assert.deepEqual(await credentials(), firstCredentials, 'the CA and admin token in the kubeconfig stay the same');
  });

  it('answers 410 Expired for a watch from a resourceVersion before the restart', async () => {
    running = await startTestCluster({ dir });
    const before = (await request(running.cluster, 'GET', '/api/v1/namespaces')).json() as { metadata: { resourceVersion: string } };
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after' } });
    await request(running.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body });
    await running.stop();
    running = await startTestCluster({ dir });
    const watch = await request(running.cluster, 'GET', `/api/v1/namespaces?watch=true&resourceVersion=${before.metadata.resourceVersion}`);
    const event = JSON.parse(watch.body.trim().split('\n')[0]!) as { type: string; object: { code: number } };
    assert.equal(event.type, 'ERROR');
    assert.equal(event.object.code, 410);
  });

  it('refuses to start on a corrupt state file or token file, naming the file', async () => {
    const dataDir = path.join(dir, 'data');
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(path.join(dataDir, 'state.json'), '{ not json');
    await assert.rejects(startTestCluster({ dir }), /state\.json is not valid JSON/);
    await fs.rm(path.join(dataDir, 'state.json'));
    await fs.writeFile(path.join(dataDir, 'tokens.csv'), 'only-a-token\n');
    await assert.rejects(startTestCluster({ dir }), /token file line 1/);
  });

  it('loads a multi-document seed file on first start only', async () => {
    const seed = path.join(dir, 'seed.yaml');
    await fs.writeFile(
      seed,
      [
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: hello, namespace: demo}\nspec:\n  containers: [{name: main, image: busybox, env: [{name: SIM_RUN_SECONDS, value: "600"}]}]',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: demo}\ndata: {mode: demo}',
      ].join('\n---\n'),
    );
    running = await startTestCluster({ dir, seedFile: seed });
    const pods = await runKubectl(['get', 'pods', '-n', 'demo', '-o', 'name'], { kubeconfig: running.kubeconfig });
    assert.equal(pods.stdout.trim(), 'pod/hello');
    await runKubectl(['delete', 'configmap', 'settings', '-n', 'demo'], { kubeconfig: running.kubeconfig });
    await running.stop();
    running = await startTestCluster({ dir, seedFile: seed });
    const configmaps = await runKubectl(['get', 'configmaps', '-n', 'demo', '-o', 'name'], { kubeconfig: running.kubeconfig });
    assert.equal(configmaps.stdout.trim(), '', 'the seed is not applied again over existing state');
  });

  it('runs as kas-devcluster: prints the URL and kubeconfig, serves kubectl, stops on SIGTERM', async () => {
    const kubeconfig = path.join(dir, 'kubeconfig');
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO, 'agent/cmd/kas_devcluster.ts'),
        '--port',
        '0',
        '--data-dir',
        path.join(dir, 'data'),
        '--kubeconfig-out',
        kubeconfig,
      ],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const deadline = Date.now() + 25_000;
    while (!/kubeconfig: /.test(stdout)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`kas-devcluster did not start; stdout: ${stdout}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(stdout, /^dev cluster: https:\/\/127\.0\.0\.1:\d+$/m);
    const ns = await runKubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig });
    assert.equal(ns.stdout.trim(), 'namespace/default');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('explains a bad --port and answers --help', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'agent/cmd/kas_devcluster.ts'), ...args], {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.on('close', (code) => resolve({ code, out }));
      });
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--kubeconfig-out/);
    const bad = await run(['--port', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /--port must be a number/);
  });
});
