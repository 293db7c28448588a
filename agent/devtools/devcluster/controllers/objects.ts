// What the dev cluster's controllers share: resource types, owner references, selectors,
// pod readiness and the hash that names a pod template's ReplicaSet.
import { createHash } from 'node:crypto';
import type { KubeObject, ResourceType } from '../types';

export const TYPES = {
  pods: { group: '', version: 'v1', resource: 'pods' },
  services: { group: '', version: 'v1', resource: 'services' },
  endpoints: { group: '', version: 'v1', resource: 'endpoints' },
  nodes: { group: '', version: 'v1', resource: 'nodes' },
  endpointSlices: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
  deployments: { group: 'apps', version: 'v1', resource: 'deployments' },
  replicaSets: { group: 'apps', version: 'v1', resource: 'replicasets' },
  statefulSets: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  daemonSets: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  jobs: { group: 'batch', version: 'v1', resource: 'jobs' },
  cronJobs: { group: 'batch', version: 'v1', resource: 'cronjobs' },
} as const satisfies Record<string, ResourceType>;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export function ownerReferenceTo(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function ownerReferences(object: KubeObject): OwnerReference[] {
  const refs = object.metadata.ownerReferences;
  return Array.isArray(refs) ? (refs as OwnerReference[]) : [];
}

/** The controlling owner of `object`, when it is of `kind`. */
export function controllerOf(object: KubeObject, kind: string): OwnerReference | undefined {
  return ownerReferences(object).find((ref) => ref.kind === kind && ref.controller !== false);
}

export function isOwnedBy(object: KubeObject, owner: KubeObject): boolean {
  return ownerReferences(object).some((ref) => ref.uid === owner.metadata.uid);
}

/** metav1.LabelSelector semantics: every matchLabels pair and every expression must hold. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (have[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, expression.key);
    const inValues = (expression.values ?? []).includes(have[expression.key] ?? '');
    const holds =
      expression.operator === 'In'
        ? present && inValues
        : expression.operator === 'NotIn'
          ? !present || !inValues
          : expression.operator === 'Exists'
            ? present
            : !present;
    if (!holds) return false;
  }
  return true;
}

/** A Service's plain selector map (an empty one selects nothing, as for a Service without selector). */
export function mapSelectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels?.[key] === value);
}

interface PodStatusView {
  phase?: string;
  podIP?: string;
  conditions?: Array<{ type?: string; status?: string }>;
}

export function podStatus(pod: KubeObject): PodStatusView {
  return (pod.status ?? {}) as PodStatusView;
}

export function isPodReady(pod: KubeObject): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  return podStatus(pod).conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function isPodTerminal(pod: KubeObject): boolean {
  const phase = podStatus(pod).phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** A pod that counts towards its controller's replicas: not finished, not being deleted. */
export function isPodActive(pod: KubeObject): boolean {
  return !isPodTerminal(pod) && !pod.metadata.deletionTimestamp;
}

/** Stable JSON (sorted keys), so equal templates hash equally whatever their key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The pod-template-hash label value: 10 characters from the alphabet Kubernetes uses for names. */
export function templateHash(template: unknown): string {
  const digest = createHash('sha256').update(stableJson(template)).digest();
  let out = '';
  for (let i = 0; i < 10; i++) out += HASH_ALPHABET[digest[i]! % HASH_ALPHABET.length];
  return out;
}

export function nowSeconds(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

/** Sets a condition, keeping its transition time when its status did not change. */
export function withCondition(conditions: Condition[] | undefined, next: Condition, withUpdateTime = false): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const now = nowSeconds();
  const same = previous?.status === next.status && previous?.reason === next.reason && previous?.message === next.message;
  const merged: Condition = {
    ...next,
    lastTransitionTime: previous?.status === next.status ? (previous.lastTransitionTime ?? now) : now,
    ...(withUpdateTime ? { lastUpdateTime: same ? (previous?.lastUpdateTime ?? now) : now } : {}),
  };
  if (index >= 0) list[index] = merged;
  else list.push(merged);
  return list;
}
