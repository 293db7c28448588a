// GET pods/<name>/log: container logs from the pod runtime, whole or followed as they are
// written (chunked) until the container ends or the client leaves.
import type { RequestContext } from './context';
import { resourceTypeOf } from '../schema/resources';
import { badRequest, notFound } from '../status';
import type { KubeObject, LogLine, PodLogQuery } from '../types';

interface ContainerState {
  name: string;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: unknown };
}

function containerNames(pod: KubeObject): string[] {
  const spec = (pod.spec ?? {}) as { containers?: Array<{ name?: string }> };
  return (spec.containers ?? []).map((c) => c.name ?? '');
}

function chooseContainer(pod: KubeObject, requested: string | null): string {
  const names = containerNames(pod);
  const podName = pod.metadata.name ?? '';
  if (requested) {
    if (!names.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${podName}`);
    return requested;
  }
  if (names.length === 1) return names[0]!;
  throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
}

/**
 * What a container without a log answers: 400 "is waiting to start" (Kubernetes' words) when it
 * has not started; no lines when it ran (e.g. before a restart of the dev cluster, whose logs
 * live in memory).
 */
function linesWithoutLog(pod: KubeObject, container: string): LogLine[] {
  const statuses = ((pod.status ?? {}) as { containerStatuses?: ContainerState[] }).containerStatuses ?? [];
  const state = statuses.find((s) => s.name === container)?.state;
  if (state && !state.waiting) return [];
  const reason = state?.waiting?.reason ?? 'ContainerCreating';
  throw badRequest(`container "${container}" in pod "${pod.metadata.name ?? ''}" is waiting to start: ${reason}`);
}

/** `previous=true` for a container that has not restarted: 400, in the kubelet's words. */
function noPreviousInstance(pod: KubeObject, container: string): never {
  throw badRequest(`previous terminated container "${container}" in pod "${pod.metadata.name ?? ''}" not found`);
}

function nonNegativeInteger(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw badRequest(`${name}: must be a non-negative integer`);
  return value;
}

function logQuery(ctx: RequestContext, pod: KubeObject): PodLogQuery {
  const q = ctx.query;
  return {
    namespace: ctx.route.namespace ?? '',
    pod: ctx.route.name ?? '',
    container: chooseContainer(pod, q.get('container')),
    previous: q.get('previous') === 'true',
    tailLines: nonNegativeInteger(q, 'tailLines'),
    sinceSeconds: nonNegativeInteger(q, 'sinceSeconds'),
    timestamps: q.get('timestamps') === 'true',
  };
}

function formatLine(line: LogLine, timestamps: boolean | undefined): string {
  return `${timestamps ? `${line.time} ` : ''}${line.text}\n`;
}

export function handlePodLog(ctx: RequestContext): void {
  const { route, parts } = ctx;
  const pod = parts.store.get(resourceTypeOf(route.definition), route.namespace, route.name ?? '');
  if (!pod) throw notFound('pods', route.name ?? '');
  const query = logQuery(ctx, pod);
  const lines =
    parts.runtime.logs?.read(query) ?? (query.previous ? noPreviousInstance(pod, query.container) : linesWithoutLog(pod, query.container));
  const follow = ctx.query.get('follow') === 'true';
  ctx.res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  ctx.res.write(lines.map((line) => formatLine(line, query.timestamps)).join(''));
  if (!follow || !parts.runtime.logs) {
    ctx.res.end();
    return;
  }
  followLog(ctx, query);
}

function followLog(ctx: RequestContext, query: PodLogQuery): void {
  const { res } = ctx;
  let stopFollowing = (): void => undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stopFollowing();
    ctx.parts.openStreams.delete(end);
    res.end();
  };
  ctx.parts.openStreams.add(end);
  res.on('close', end);
  const { tailLines: _tail, sinceSeconds: _since, ...live } = query;
  stopFollowing = ctx.parts.runtime.logs!.follow(live, (line) => res.write(formatLine(line, query.timestamps)), end);
  if (ended) stopFollowing();
}
