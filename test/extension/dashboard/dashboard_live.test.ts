// The dashboard against a real local pair (dev cluster, kas and agentk as the extension starts
// them): kas's tunnel figures endpoint counts the requests that went through the agent's
// tunnel, and the dashboard controller, fed by the pod feed through kas, posts a snapshot and
// then deltas as pods are created, turn Running and are deleted with kubectl, and the namespace
// picker as namespaces come and go; its health carries the connected replica and the figures.
import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatProxyCredential } from '../../../agent/shared/proxy_credential';
import { tunnelFiguresPath, type TunnelFiguresView } from '../../../agent/shared/kas_api';
import { buildKubeconfig } from '../../../extension/src/commands/kubeconfig';
import { DashboardController } from '../../../extension/src/dashboard/dashboard_controller';
import { cacheSource } from '../../../extension/src/dashboard/source';
import { ResourceCache } from '../../../extension/src/cache/resource_cache';
import { readCaFile } from '../../../extension/src/kas_client/http';
import { KasApi } from '../../../extension/src/kas_client/kas_api';
import { KasClientError } from '../../../extension/src/kas_client/errors';
import type { KubeClient } from '../../../extension/src/kas_client/kube_client';
import { kubeClientFor } from '../../../extension/src/kube/load';
import { LocalPairProcess } from '../../../extension/src/local_pair/local_pair_process';
import type { LocalPairReady } from '../../../agent/shared/local_pair_ready';
import type { ExtensionToWebview, ResourceRow } from '../../../webviews/dashboard/messages';
import { runKubectl } from '../../support/kubectl';
import { simulatedPod, waitFor } from '../helpers';

describe('dashboard against the local pair (kas + agentk + dev cluster)', function () {
  this.timeout(120_000);
  const script = resolve(__dirname, '..', '..', '..', 'dist', 'local-pair.js');
  let dir = '';
  let pair: LocalPairProcess | undefined;
  let ready: LocalPairReady;
  let caPem: string | undefined;
  let kas: KasApi;
  let kube: KubeClient;
  let kubeconfig = '';
  let token = '';
  let controller: DashboardController | undefined;

  before(async function () {
    if (!existsSync(script)) throw new Error('dist/local-pair.js is not built: run node esbuild.mjs');
    dir = await mkdtemp(join(tmpdir(), 'dashboard-live-'));
    pair = new LocalPairProcess(script, () => undefined, ['--json', '--free-ports', '--data-dir', dir]);
    ready = await pair.ready;
    caPem = ready.caFile ? await readCaFile(ready.caFile) : undefined;
    kas = new KasApi({ baseUrl: ready.apiUrl, authorization: `Bearer ${ready.userToken}`, caPem });
    token = formatProxyCredential('pat', ready.agentId, ready.userToken);
    kube = await kubeClientFor({ server: ready.k8sProxyUrl, token, caPem });
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, buildKubeconfig({ contextName: 'dev', server: ready.k8sProxyUrl, caPem, token }));
  });

  after(async () => {
    await controller?.stop();
    await pair?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const currentRequests = (view: TunnelFiguresView) => view.minutes.at(-1)!.requests + (view.minutes.at(-2)?.requests ?? 0);

  it("reports the agent's tunnel figures: requests counted, latency quantiles, open streams", async () => {
    // agentk keeps idle tunnel streams open; right after the ready line they may still be on their way.
    const before = await waitFor('open tunnel streams', async () => {
      const view = await kas.tunnelFigures(ready.agentId);
      return view.openStreams > 0 && view;
    });
    assert.equal(before.windowMinutes, 15);
    assert.equal(before.minutes.length, 15);
    for (let i = 0; i < 12; i++) await kube.listNamespaces();
    const after = await kas.tunnelFigures(ready.agentId);
    assert.ok(
      currentRequests(after) - currentRequests(before) >= 12,
      `12 more requests: ${currentRequests(before)} → ${currentRequests(after)}`,
    );
    assert.ok(after.p50Ms !== null && after.p50Ms > 0 && after.p99Ms !== null && after.p99Ms >= after.p50Ms);
    assert.ok(after.requestsPerMinute >= 12 / 15);
    assert.equal(
      after.errorsPerMinute * 15,
      after.minutes.reduce((sum, m) => sum + m.errors, 0),
    );
    assert.ok(after.minutes.every((m, i) => i === 0 || m.start - after.minutes[i - 1]!.start === 60_000));
  });

  it('refuses the figures without a valid token and for an unknown agent', async () => {
    const anonymous = new KasApi({ baseUrl: ready.apiUrl, authorization: 'Bearer wrong-token', caPem, unauthorizedMeansKas: true });
    await assert.rejects(
      anonymous.tunnelFigures(ready.agentId),
      (e: unknown) => e instanceof KasClientError && e.code === 'KAS_UNAUTHORIZED',
    );
    await assert.rejects(kas.tunnelFigures('999999'), (e: unknown) => e instanceof KasClientError && e.code === 'NOT_FOUND');
    assert.equal(tunnelFiguresPath('1'), '/api/v1/agents/1/tunnel_figures');
  });

  it('posts a snapshot, then pods created, turning Running and deleted, a drawer with live events, and the health of the agent', async () => {
    const namespace = 'default';
    const messages: ExtensionToWebview[] = [];
    controller = new DashboardController({
      agentId: ready.agentId,
      agentName: ready.agentName,
      namespace,
      source: cacheSource(new ResourceCache({ client: () => Promise.resolve(kube), debounceMs: 100 }), () =>
        Promise.resolve({ server: ready.k8sProxyUrl, token, caPem }),
      ),
      agent: async (signal) => (await kas.agents(signal)).find((a) => a.id === ready.agentId),
      figures: (signal) => kas.tunnelFigures(ready.agentId, signal),
      post: (message) => messages.push(message),
      healthPollMs: { ok: 300, failing: 300 },
    });
    controller.start();
    const rows = new Map<string, ResourceRow>();
    const apply = () => {
      for (const message of messages.splice(0)) {
        if (message.type === 'snapshot') {
          rows.clear();
          for (const row of message.rows) rows.set(row.uid, row);
        } else if (message.type === 'delta') {
          for (const row of message.upserts) rows.set(row.uid, row);
          for (const gone of message.deletes) rows.delete(gone.uid);
        } else seen.push(message);
      }
    };
    const seen: ExtensionToWebview[] = [];
    const byName = (name: string) => [...rows.values()].find((row) => row.name === name);
    await waitFor('the first snapshot and the live state', () => {
      apply();
      return seen.some((m) => m.type === 'init') && seen.some((m) => m.type === 'state' && m.state === 'live');
    });
    // The namespace picker follows namespaces created and deleted while the dashboard is open.
    const picker = () => seen.filter((m) => m.type === 'namespaces').at(-1);
    await waitFor('the namespaces listed', () => {
      apply();
      const last = picker();
      return last?.type === 'namespaces' && last.namespaces.includes('default');
    });
    assert.equal((await runKubectl(['create', 'namespace', 'dash-new'], { kubeconfig })).code, 0);
    await waitFor('a new namespace in the picker', () => {
      apply();
      const last = picker();
      return last?.type === 'namespaces' && last.namespaces.includes('dash-new') && last.namespace === namespace;
    });
    assert.equal((await runKubectl(['delete', 'namespace', 'dash-new', '--wait=false'], { kubeconfig })).code, 0);
    await waitFor(
      'the deleted namespace gone from the picker',
      () => {
        apply();
        const last = picker();
        return last?.type === 'namespaces' && !last.namespaces.includes('dash-new');
      },
      60_000,
    );
    const manifest = (name: string) => JSON.stringify({ ...simulatedPod(name), metadata: { name, namespace } });
    for (const name of ['dash-a', 'dash-b']) {
      const created = await runKubectl(['apply', '-f', '-'], { kubeconfig, input: manifest(name) });
      assert.equal(created.code, 0, created.stderr);
    }
    await waitFor(
      'both pods Running in the dashboard',
      () => {
        apply();
        return byName('dash-a')?.status === 'Running' && byName('dash-b')?.status === 'Running';
      },
      60_000,
    );
    assert.equal(byName('dash-a')?.ready, '1/1');
    // A Deployment: its ReplicaSet and pods arrive from the same cache, the pods turn Running,
    // and a deleted pod is replaced (the pod count dips and comes back, the old name gone).
    const created = await runKubectl(['create', 'deployment', 'dash-web', '--image=sim', '--replicas=2', '-n', namespace], { kubeconfig });
    assert.equal(created.code, 0, created.stderr);
    const webPods = () => [...rows.values()].filter((row) => row.kind === 'Pod' && row.name.startsWith('dash-web-'));
    await waitFor(
      'the deployment Available with two Running pods owned by its ReplicaSet',
      () => {
        apply();
        const deployment = [...rows.values()].find((row) => row.kind === 'Deployment' && row.name === 'dash-web');
        const replicaSet = [...rows.values()].find((row) => row.kind === 'ReplicaSet' && row.owners.some((o) => o.name === 'dash-web'));
        const pods = webPods();
        return (
          deployment?.status === 'Available' &&
          deployment.ready === '2/2' &&
          replicaSet !== undefined &&
          pods.length === 2 &&
          pods.every((p) => p.status === 'Running' && p.owners.some((o) => o.name === replicaSet.name))
        );
      },
      60_000,
    );
    const victim = webPods()[0]!.name;
    assert.equal((await runKubectl(['delete', 'pod', victim, '-n', namespace, '--wait=false'], { kubeconfig })).code, 0);
    await waitFor(
      'the deleted pod replaced, two Running again',
      () => {
        apply();
        const pods = webPods();
        return !pods.some((p) => p.name === victim) && pods.length === 2 && pods.every((p) => p.status === 'Running');
      },
      60_000,
    );
    const deleted = await runKubectl(['delete', 'pod', 'dash-a', '-n', namespace, '--wait=false'], { kubeconfig });
    assert.equal(deleted.code, 0, deleted.stderr);
    await waitFor(
      'dash-a gone from the dashboard',
      () => {
        apply();
        return byName('dash-a') === undefined && byName('dash-b')?.status === 'Running';
      },
      60_000,
    );
    // The drawer: detail at once, the pod's events, and a new one when it is deleted.
    const podB = byName('dash-b')!;
    controller.handle({ type: 'openDetail', ref: { kind: 'Pod', uid: podB.uid, namespace, name: 'dash-b' } });
    const reasonsOf = () =>
      seen.flatMap((m) => (m.type === 'events' && m.uid === podB.uid && m.live ? [m.events.map((e) => e.reason)] : [])).at(-1) ?? [];
    await waitFor('the detail and the pod’s events', () => {
      apply();
      return seen.some((m) => m.type === 'detail' && m.detail.uid === podB.uid) && reasonsOf().includes('Started');
    });
    const detail = seen.find((m) => m.type === 'detail' && m.detail.uid === podB.uid);
    assert.ok(detail?.type === 'detail' && detail.detail.containers.includes('main') && /image: sim/.test(detail.detail.specYaml));
    assert.equal((await runKubectl(['delete', 'pod', 'dash-b', '-n', namespace, '--wait=false'], { kubeconfig })).code, 0);
    await waitFor(
      'the Killing event arriving live',
      () => {
        apply();
        return reasonsOf().includes('Killing');
      },
      60_000,
    );
    const health = await waitFor('health with figures', () => {
      apply();
      const last = seen.filter((m) => m.type === 'health').at(-1);
      return last?.type === 'health' && last.health.figures ? last.health : undefined;
    });
    assert.equal(health.agentName, 'dev');
    assert.ok(health.connections.length >= 1, 'the connected agentk replica');
    assert.ok(health.figures!.requestsPerMinute > 0);
    assert.ok(!seen.some((m) => m.type === 'state' && m.state !== 'live' && m.state !== 'loading'), 'no error state on the way');
  });

  it('shows kas unreachable while nothing answers and clears it by itself when kas answers', async () => {
    // The first kas address has nothing listening (a port just closed); later the pair's real one.
    const closed = await closedPort();
    let reachable = false;
    const deadKas = new KasApi({ baseUrl: `http://127.0.0.1:${closed}/`, authorization: 'Bearer x', timeoutMs: 2_000 });
    const deadKube = await kubeClientFor({ server: `http://127.0.0.1:${closed}/k8s-proxy/`, token: 'pat:1:x', timeoutMs: 2_000 });
    const messages: ExtensionToWebview[] = [];
    const recovering = new DashboardController({
      agentId: ready.agentId,
      agentName: ready.agentName,
      namespace: 'default',
      source: cacheSource(new ResourceCache({ client: () => Promise.resolve(reachable ? kube : deadKube), debounceMs: 100 })),
      agent: async (signal) => (await (reachable ? kas : deadKas).agents(signal)).find((a) => a.id === ready.agentId),
      figures: (signal) => (reachable ? kas : deadKas).tunnelFigures(ready.agentId, signal),
      post: (message) => messages.push(message),
      healthPollMs: { ok: 300, failing: 300 },
    });
    recovering.start();
    try {
      const states = () => messages.flatMap((m) => (m.type === 'state' ? [m.state] : []));
      await waitFor('kas unreachable', () => states().includes('kasUnreachable'), 30_000);
      const shown = messages.find((m) => m.type === 'state' && m.state === 'kasUnreachable');
      assert.ok(shown?.type === 'state' && shown.detail.startsWith('UNREACHABLE'), 'an error code, not upstream text');
      reachable = true;
      await waitFor('live again without any action', () => states().at(-1) === 'live', 60_000);
      // Every kind's feed relists on its own backoff: the pods arrive, though maybe after another kind.
      await waitFor('the pods listed again', () => messages.some((m) => m.type === 'snapshot' && m.kind === 'Pod'), 60_000);
    } finally {
      await recovering.stop();
    }
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}
