// The dev cluster's controllers with real kubectl 1.32 and @kubernetes/client-node: a
// Deployment makes a ReplicaSet that makes pods; scale and rollout (revisions, rollout status,
// undo); StatefulSets and DaemonSets; a Job runs to completion; a CronJob makes Jobs on
// schedule; a Service's endpoints follow ready pods; get nodes / get svc.
import assert from 'node:assert/strict';
import type { KubeConfig } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { parseCronSchedule } from '../../../agent/devtools/devcluster/controllers/cron_schedule';
import { runKubectl, stopAllKubectl } from '../../support/kubectl';
import { startTestCluster, type TestCluster } from '../../support/devcluster';

type ClientNode = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('devcluster controllers: Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, Services (kubectl and client-node)', function () {
  this.timeout(60_000);
  let t: TestCluster;
  let k8s: ClientNode;
  let kubeConfig: KubeConfig;
  const kubectl = async (args: string[], input?: string) => {
    const result = await runKubectl(args, { kubeconfig: t.kubeconfig, input });
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    t = await startTestCluster();
    k8s = await import('@kubernetes/client-node');
    kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(t.kubeconfig);
  });
  afterEach(async () => {
    await stopAllKubectl();
  });
  after(async () => {
    await t?.stop();
  });

  it('kubectl get nodes and get svc list the node and the kubernetes Service', async () => {
    assert.match(await kubectl(['get', 'nodes']), /^devcluster-node\s+Ready\s+control-plane\s+\S+\s+v1\.32/m);
    assert.match(await kubectl(['get', 'svc', '-n', 'default']), /^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP/m);
    assert.match(await kubectl(['describe', 'node', 'devcluster-node']), /InternalIP:\s+172\.18\.0\.2/);
  });

  it('create deployment → ReplicaSet → pods; scale; rollout restart with revisions; rollout undo', async () => {
    await kubectl(['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '--port=80']);
    assert.match(await kubectl(['rollout', 'status', 'deploy/web', '--timeout=30s']), /successfully rolled out/);
    const apps = kubeConfig.makeApiClient(k8s.AppsV1Api);
    const sets = await apps.listNamespacedReplicaSet({ namespace: 'default' });
    assert.equal(sets.items.length, 1);
    const first = sets.items[0]!;
    assert.equal(first.metadata?.annotations?.['deployment.kubernetes.io/revision'], '1');
    assert.equal(first.metadata?.ownerReferences?.[0]?.kind, 'Deployment');
    assert.match(await kubectl(['get', 'deploy', 'web']), /^web\s+2\/2\s+2\s+2\s/m);

    await kubectl(['scale', 'deploy/web', '--replicas=4']);
    assert.match(await kubectl(['rollout', 'status', 'deploy/web', '--timeout=30s']), /successfully rolled out/);
    const pods = await kubectl(['get', 'pods', '-l', 'app=web', '--no-headers']);
    assert.equal(pods.trim().split('\n').length, 4, pods);

    await kubectl(['rollout', 'restart', 'deploy/web']);
    assert.match(await kubectl(['rollout', 'status', 'deploy/web', '--timeout=30s']), /successfully rolled out/);
    const history = await kubectl(['rollout', 'history', 'deploy/web']);
    assert.match(history, /^1\s/m);
    assert.match(history, /^2\s/m);
    // The old ReplicaSet is scaled to zero and its pods gone: every pod is from revision 2.
    const after = await kubectl([
      'get',
      'rs',
      '-l',
      'app=web',
      '-o',
      'jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas} {end}',
    ]);
    assert.deepEqual(after.trim().split(' ').sort(), ['1=0', '2=4']);
    await eventually(
      async () => (await kubectl(['get', 'pods', '-l', 'app=web', '--no-headers'])).trim().split('\n').length === 4,
      'old pods to go',
    );

    await kubectl(['rollout', 'undo', 'deploy/web']);
    assert.match(await kubectl(['rollout', 'status', 'deploy/web', '--timeout=30s']), /successfully rolled out/);
    const deployment = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    assert.equal(deployment.metadata?.annotations?.['deployment.kubernetes.io/revision'], '3');
    assert.equal(deployment.status?.observedGeneration, deployment.metadata?.generation);
  });

  it("a Service's Endpoints and EndpointSlice follow the ready pods its selector picks", async () => {
    await kubectl(['create', 'deployment', 'api', '--image=nginx', '--replicas=2', '--port=8080']);
    await kubectl(['expose', 'deploy/api', '--port=80', '--target-port=8080']);
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const ready = (n: number) =>
      eventually(async () => {
        const endpoints = await core.readNamespacedEndpoints({ name: 'api', namespace: 'default' }).catch(() => undefined);
        const addresses = endpoints?.subsets?.[0]?.addresses ?? [];
        return addresses.length === n ? endpoints : undefined;
      }, `${n} ready endpoints`);
    const endpoints = await ready(2);
    assert.equal(endpoints.subsets?.[0]?.ports?.[0]?.port, 8080);
    assert.match(await kubectl(['get', 'svc', 'api']), /^api\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80\/TCP/m);
    await kubectl(['scale', 'deploy/api', '--replicas=3']);
    await ready(3);
    const discovery = kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
    const slices = await discovery.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=api' });
    assert.equal(slices.items[0]?.endpoints.filter((e) => e.conditions?.ready).length, 3);
    await kubectl(['scale', 'deploy/api', '--replicas=1']);
    await ready(1);
  });

  it('a Job runs its pod to completion; kubectl wait sees Complete and logs show the output', async () => {
    await kubectl(['create', 'job', 'once', '--image=busybox', '--', 'sh', '-c', 'echo done-$(hostname)']);
    await kubectl(['wait', '--for=condition=complete', 'job/once', '--timeout=30s']);
    assert.match(await kubectl(['get', 'job', 'once']), /^once\s+Complete\s+1\/1\s/m);
    assert.match(await kubectl(['logs', 'job/once']), /^done-once-\w+$/m);
    const batch = kubeConfig.makeApiClient(k8s.BatchV1Api);
    const job = await batch.readNamespacedJob({ name: 'once', namespace: 'default' });
    assert.equal(job.status?.succeeded, 1);
    assert.ok(job.spec?.selector?.matchLabels?.['batch.kubernetes.io/controller-uid']);
  });

  it('a failing Job gives up after backoffLimit failed pods', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: batch/v1
kind: Job
metadata: {name: failing}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [sh, -c, "exit 3"]}]
`,
    );
    await kubectl(['wait', '--for=condition=failed', 'job/failing', '--timeout=30s']);
    const batch = kubeConfig.makeApiClient(k8s.BatchV1Api);
    assert.equal((await batch.readNamespacedJob({ name: 'failing', namespace: 'default' })).status?.failed, 2);
  });

  it('a CronJob makes Jobs on its schedule and keeps successfulJobsHistoryLimit of them', async () => {
    await kubectl(['create', 'cronjob', 'tick', '--image=busybox', '--schedule=@every 1s', '--', 'echo', 'tick']);
    await kubectl(['patch', 'cronjob', 'tick', '--type=merge', '-p', '{"spec":{"successfulJobsHistoryLimit":2}}']);
    const batch = kubeConfig.makeApiClient(k8s.BatchV1Api);
    await eventually(async () => {
      const jobs = await batch.listNamespacedJob({ namespace: 'default' });
      const owned = jobs.items.filter((j) => j.metadata?.ownerReferences?.[0]?.name === 'tick');
      const complete = owned.filter((j) => j.status?.conditions?.some((c) => c.type === 'Complete'));
      return complete.length >= 2 ? true : undefined;
    }, 'two completed jobs of the CronJob');
    const cronJob = await batch.readNamespacedCronJob({ name: 'tick', namespace: 'default' });
    assert.ok(cronJob.status?.lastScheduleTime);
    await kubectl(['delete', 'cronjob', 'tick']);
    await eventually(async () => {
      const jobs = await batch.listNamespacedJob({ namespace: 'default' });
      return jobs.items.every((j) => j.metadata?.ownerReferences?.[0]?.name !== 'tick') ? true : undefined;
    }, 'the CronJob’s jobs to be garbage-collected');
  });

  it('StatefulSets make ordinal pods in order and roll them on a template change; DaemonSets one pod per node', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: logger}
spec:
  selector: {matchLabels: {app: logger}}
  template:
    metadata: {labels: {app: logger}}
    spec: {containers: [{name: main, image: fluentd}]}
`,
    );
    assert.match(await kubectl(['rollout', 'status', 'sts/db', '--timeout=30s']), /roll out complete|rolling update complete/);
    assert.match(await kubectl(['rollout', 'status', 'ds/logger', '--timeout=30s']), /successfully rolled out/);
    const names = await kubectl(['get', 'pods', '-l', 'app=db', '-o', 'jsonpath={.items[*].metadata.name}']);
    assert.deepEqual(names.split(' ').sort(), ['db-0', 'db-1', 'db-2']);
    await kubectl(['set', 'image', 'sts/db', 'db=postgres:17']);
    assert.match(await kubectl(['rollout', 'status', 'sts/db', '--timeout=30s']), /3 new pods have been updated/);
    const images = await kubectl(['get', 'pods', '-l', 'app=db', '-o', 'jsonpath={.items[*].spec.containers[0].image}']);
    assert.deepEqual(images.split(' '), ['postgres:17', 'postgres:17', 'postgres:17']);
    assert.match(await kubectl(['get', 'ds', 'logger']), /^logger\s+1\s+1\s+1\s+1\s+1\s/m);
  });

  it('deleting a Deployment deletes its ReplicaSets and their pods (ownerReferences)', async () => {
    await kubectl(['create', 'deployment', 'gone', '--image=nginx', '--replicas=2']);
    await kubectl(['rollout', 'status', 'deploy/gone', '--timeout=30s']);
    await kubectl(['delete', 'deploy', 'gone']);
    await eventually(
      async () => ((await kubectl(['get', 'rs,pods', '-l', 'app=gone', '--no-headers'])).trim() === '' ? true : undefined),
      'dependents to go',
    );
  });

  it('reads cron schedules as Kubernetes does', () => {
    const at = Date.UTC(2026, 0, 1, 10, 7, 30);
    assert.equal(new Date(parseCronSchedule('*/15 * * * *').next(at)!).toISOString(), '2026-01-01T10:15:00.000Z');
    assert.equal(new Date(parseCronSchedule('0 9 * * mon').next(at)!).toISOString(), '2026-01-05T09:00:00.000Z');
    assert.equal(new Date(parseCronSchedule('@daily').next(at)!).toISOString(), '2026-01-02T00:00:00.000Z');
    assert.equal(parseCronSchedule('@every 10s').next(at)! - at, 10_000 - (at % 10_000));
    assert.throws(() => parseCronSchedule('* * *'), /5 fields/);
  });
});
