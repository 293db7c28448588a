// What a pod's icon says at a glance. The phase alone hides the states users care about: a pod
// in CrashLoopBackOff is "Running", a pod whose readiness probe fails is "Running" too.
import type { Pod } from '../kas_client/kube_client';

export type PodHealth = 'ready' | 'notReady' | 'pending' | 'failing' | 'completed' | 'terminating' | 'unknown';

/** Waiting reasons that mean the container cannot run (kubelet's back-off and config errors). */
const FAILING_WAITING = /BackOff$|Err|Error|Invalid/;

export function podHealth(pod: Pod): PodHealth {
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  const phase = pod.status?.phase;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const failing = statuses.some((s) => {
    const waiting = s.state?.waiting?.reason ?? '';
    const terminated = s.state?.terminated;
    return FAILING_WAITING.test(waiting) || (terminated !== undefined && terminated.exitCode !== 0 && phase !== 'Succeeded');
  });
  if (phase === 'Failed' || failing) return 'failing';
  if (phase === 'Succeeded') return 'completed';
  if (phase === 'Pending') return 'pending';
  if (phase !== 'Running') return 'unknown';
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready ? 'ready' : 'notReady';
}

/** A codicon and theme colour per health; shapes differ too, not only colours. */
export const POD_HEALTH_ICONS: Record<PodHealth, { id: string; color?: string }> = {
  ready: { id: 'pass-filled', color: 'charts.green' },
  notReady: { id: 'circle-large-outline', color: 'charts.yellow' },
  pending: { id: 'clock', color: 'charts.yellow' },
  failing: { id: 'error', color: 'charts.red' },
  completed: { id: 'check', color: 'charts.blue' },
  terminating: { id: 'trash', color: 'disabledForeground' },
  unknown: { id: 'question' },
};
