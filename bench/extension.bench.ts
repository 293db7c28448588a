// Extension benchmarks: expanding a namespace of 5,000 pods in the Agents tree from the cache
// (children + one presentation per child, what VS Code asks for), against JSON.parse of the same
// pod list (the cost of merely reading that list off the wire) and against client-node's
// listPods of it from a loopback server (what filling the cache costs) in the same run; the
// bundle sizes; and the activation time, read from the extension's log written by the last UI
// test run.
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KasClientError } from '../extension/src/kas_client/errors';
import type { Pod } from '../extension/src/kas_client/kube_client';
import { kubeClientFor } from '../extension/src/kube/load';
import { podNodesOf } from '../extension/src/trees/agents_model';
import { NamespaceNode, present } from '../extension/src/trees/nodes';
import { WatchFeed } from '../extension/src/cache/watch_feed';
import { formatMs, median, timeRuns } from './stats';

const POD_COUNT = 5000;
const RUNS = 30;
const LIST_RUNS = 10;

export function makePods(count: number): Pod[] {
  // client-node's V1Pod, as a list answer delivers it (timestamps as Dates).
  const created = new Date(Date.now() - 3600_000);
  return Array.from({ length: count }, (_, i) => ({
    metadata: {
      name: `web-${String(i).padStart(5, '0')}-${(i * 7919) % 10007}`,
      namespace: 'bench',
      uid: `uid-${i}`,
      resourceVersion: String(i + 1),
      creationTimestamp: created,
      labels: { app: 'web' },
    },
    spec: {
      containers: [
        { name: 'app', image: 'nginx' },
        { name: 'sidecar', image: 'envoy' },
      ],
      nodeName: 'node-1',
    },
    status: {
      phase: i % 50 === 0 ? 'Pending' : 'Running',
      podIP: `10.0.${i >> 8}.${i & 255}`,
      containerStatuses: [
        { name: 'app', image: 'nginx', imageID: '', ready: true, restartCount: i % 3 },
        { name: 'sidecar', image: 'envoy', imageID: '', ready: true, restartCount: 0 },
      ],
    },
  }));
}

/** A feed filled directly, never started: the benchmark measures the cache path only. */
export function filledFeed(pods: Pod[]): WatchFeed<Pod> {
  const feed = new WatchFeed<Pod>({
    source: {
      list: () => Promise.reject(new KasClientError('CANCELLED')),
      watch: () => Promise.reject(new KasClientError('CANCELLED')),
    },
    onChange: () => undefined,
  });
  feed.replaceAll([...pods].reverse(), '1');
  return feed;
}

export function expand(feed: WatchFeed<Pod>, node: NamespaceNode, now: number): number {
  let labels = 0;
  for (const child of podNodesOf(feed, node)) labels += present(child, now).label.length;
  return labels;
}

/** listPods through client-node (request, JSON parse, V1Pod deserialisation) from a loopback server. */
async function timeClientNodeList(listJson: string): Promise<number[]> {
  const server = http.createServer((_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(listJson);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const client = await kubeClientFor({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, token: 'bench' });
    return await timeRuns(async () => (await client.listPods('bench')).items.length, LIST_RUNS, 2);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function bundleSection(): string[] {
  const size = (name: string) => {
    const file = join(__dirname, '..', 'dist', name);
    return existsSync(file) ? `${(statSync(file).size / 2 ** 10).toFixed(0)} KiB` : 'not built';
  };
  return [
    `- Bundles (production build, as in the .vsix): dist/extension.js (activation) ${size('extension.js')}; dist/extension-kube.js (client-node, loaded on first cluster use) ${size('extension-kube.js')}.`,
  ];
}

function activationSection(): string[] {
  const file = join(__dirname, '..', '.test-output', 'ui', 'activation.json');
  if (!existsSync(file)) return ['- Activation: not measured in this run (the UI tests write it to .test-output/ui/activation.json).'];
  const { activationMs, withModuleMs, measuredAt } = JSON.parse(readFileSync(file, 'utf8')) as {
    activationMs: number;
    withModuleMs?: number;
    measuredAt: string;
  };
  const withModule = withModuleMs === undefined ? '' : `; ${formatMs(withModuleMs)} including the bundle's module initialisation`;
  return [
    `- Activation in code-server's extension host (UI test run at ${measuredAt}): activate() **${formatMs(activationMs)}**${withModule} (target < 100 ms).`,
  ];
}

export default async function run(): Promise<string> {
  const pods = makePods(POD_COUNT);
  const listJson = JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: pods });
  const feed = filledFeed(pods);
  const node: NamespaceNode = { kind: 'namespace', connectionId: 'c', agentId: '1', namespace: 'bench' };
  const now = Date.now();
  let version = POD_COUNT + 1;
  // Cold: a watch event before each expansion invalidates the sorted snapshot, the worst case.
  const cold = await timeRuns(
    () => {
      const pod = pods[version % POD_COUNT]!;
      feed.apply({ type: 'MODIFIED', object: { ...pod, metadata: { ...pod.metadata, resourceVersion: String(version++) } } });
      return expand(feed, node, now);
    },
    RUNS,
    5,
  );
  const warm = await timeRuns(() => expand(feed, node, now), RUNS, 5);
  const parse = await timeRuns(() => (JSON.parse(listJson) as { items: unknown[] }).items.length, RUNS, 5);
  const clientNodeList = await timeClientNodeList(listJson);
  await feed.stop();
  const coldMedian = median(cold);
  return [
    '## Extension',
    '',
    `Expanding a namespace of ${POD_COUNT.toLocaleString('en')} pods in the Agents tree from the cache (children plus the presentation of every child), median of ${RUNS} runs:`,
    '',
    '| case | median |',
    '| --- | --- |',
    `| after a watch event (re-sort) | ${formatMs(coldMedian)} |`,
    `| unchanged (sorted snapshot reused) | ${formatMs(median(warm))} |`,
    `| peer: JSON.parse of the same pod list (${(listJson.length / 2 ** 20).toFixed(1)} MiB) | ${formatMs(median(parse))} |`,
    `| peer: client-node listPods of that list from a loopback server (median of ${LIST_RUNS}) | ${formatMs(median(clientNodeList))} |`,
    '',
    `- Target < 200 ms: ${coldMedian < 200 ? 'met' : 'NOT met'}; expansion costs ${(coldMedian / median(parse)).toFixed(2)}× the parse of the list it shows.`,
    ...bundleSection(),
    ...activationSection(),
  ].join('\n');
}

if (require.main === module) {
  run().then(
    (text) => process.stdout.write(`${text}\n`),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
