// The state of one app, derived from what the cluster holds: its helm pod (action and phase),
// the release marker on its values ConfigMap, and pods of the same release installed by
// someone else. Pure: the model calls it on every watch event and when a timeout falls due.
import type { AppAction } from './names';

export type AppState =
  | 'installable'
  | 'scheduled'
  | 'installing'
  | 'installed'
  | 'errored'
  | 'updating'
  | 'updated'
  | 'update_errored'
  | 'uninstalling'
  | 'uninstall_errored'
  | 'externally_installed';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface HelmPodFacts {
  action: AppAction;
  phase: PodPhase | undefined;
  /** Creation time (ms since epoch); the timeout counts from it. */
  createdAt: number;
}

export interface AppFacts {
  pod: HelmPodFacts | undefined;
  /** The marker written after a successful install or upgrade. */
  release: 'installed' | 'updated' | undefined;
  /** Pods of this release exist that no install of ours made (helm labels, no marker). */
  externallyInstalled: boolean;
}

/** The reference gave up on an install pod after 20 minutes. */
export const HELM_POD_TIMEOUT_MS = 20 * 60 * 1000;

const BY_ACTION: Record<AppAction, { pending: AppState; running: AppState; succeeded: AppState; failed: AppState }> = {
  install: { pending: 'scheduled', running: 'installing', succeeded: 'installed', failed: 'errored' },
  update: { pending: 'updating', running: 'updating', succeeded: 'updated', failed: 'update_errored' },
  uninstall: { pending: 'uninstalling', running: 'uninstalling', succeeded: 'installable', failed: 'uninstall_errored' },
};

export function deriveAppState(facts: AppFacts, now: number, timeoutMs = HELM_POD_TIMEOUT_MS): AppState {
  if (facts.pod) return podState(facts.pod, now, timeoutMs);
  if (facts.release) return facts.release;
  return facts.externallyInstalled ? 'externally_installed' : 'installable';
}

function podState(pod: HelmPodFacts, now: number, timeoutMs: number): AppState {
  const states = BY_ACTION[pod.action];
  if (pod.phase === 'Succeeded') return states.succeeded;
  if (pod.phase === 'Failed') return states.failed;
  if (isTimedOut(pod, now, timeoutMs)) return states.failed;
  return pod.phase === 'Running' ? states.running : states.pending;
}

export function isTimedOut(pod: HelmPodFacts, now: number, timeoutMs = HELM_POD_TIMEOUT_MS): boolean {
  return now - pod.createdAt >= timeoutMs;
}

/** A helm pod still doing its work: a second install must wait for it. */
export function isHelmPodActive(pod: HelmPodFacts, now: number, timeoutMs = HELM_POD_TIMEOUT_MS): boolean {
  return pod.phase !== 'Succeeded' && pod.phase !== 'Failed' && !isTimedOut(pod, now, timeoutMs);
}

/** States in which the app's helm pod is running (install/upgrade/uninstall refused). */
export const BUSY_STATES: ReadonlySet<AppState> = new Set(['scheduled', 'installing', 'updating', 'uninstalling']);
