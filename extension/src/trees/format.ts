// Formatting of cluster objects for the tree: short, kubectl-like, pure functions.
import type { Pod } from '../kas_client/kube_client';

/**
 * Age like kubectl prints it: 45s, 12m, 3h, 5d. client-node's list answers carry Dates, while
 * watch events carry the wire's RFC 3339 strings, so both are accepted.
 */
export function formatAge(timestamp: Date | string | undefined, now: number): string {
  if (!timestamp) return '';
  const millis = typeof timestamp === 'string' ? Date.parse(timestamp) : timestamp.getTime();
  const seconds = Math.max(0, Math.floor((now - millis) / 1000));
  if (Number.isNaN(seconds)) return '';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function restartCount(pod: Pod): number {
  return (pod.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0);
}

export type PodPhase = 'pending' | 'running' | 'succeeded' | 'failed' | 'unknown';

export function podPhase(pod: Pod): PodPhase {
  const phase = (pod.status?.phase ?? 'Unknown').toLowerCase();
  return phase === 'pending' || phase === 'running' || phase === 'succeeded' || phase === 'failed' ? phase : 'unknown';
}

/** What kubectl shows in STATUS: Terminating, a container's waiting reason, or the phase. */
export function podStatusText(pod: Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  for (const status of pod.status?.containerStatuses ?? []) {
    const reason = status.state?.waiting?.reason ?? status.state?.terminated?.reason;
    if (reason && reason !== 'Completed') return reason;
  }
  return pod.status?.reason ?? pod.status?.phase ?? 'Unknown';
}

export function readyText(pod: Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? statuses.length;
  return `${statuses.filter((s) => s.ready).length}/${total}`;
}

export function containerNames(pod: Pod): string[] {
  return (pod.spec?.containers ?? []).map((c) => c.name);
}
