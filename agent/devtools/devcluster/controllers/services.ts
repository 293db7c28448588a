// Services: a ClusterIP allocated when none is set, and the Endpoints and EndpointSlice of
// a Service with a selector, following its ready (and not-ready) pods.
import type { KubeObject } from '../types';
import type { ControllerContext } from './context';
import { isPodActive, isPodReady, mapSelectorMatches, podStatus, TYPES } from './objects';

interface ServicePort {
  name?: string;
  port?: number;
  protocol?: string;
  targetPort?: number | string;
  nodePort?: number;
}

interface ServiceSpec {
  type?: string;
  selector?: Record<string, string>;
  clusterIP?: string;
  ports?: ServicePort[];
}

interface ContainerPort {
  name?: string;
  containerPort?: number;
  protocol?: string;
}

/** A free 10.96.x.y address, taken in order (10.96.0.1 is the kubernetes Service's). */
function allocateClusterIP(ctx: ControllerContext): string {
  const taken = new Set(ctx.store.list(TYPES.services).items.map((s) => (s.spec as ServiceSpec | undefined)?.clusterIP));
  for (let n = 10; n < 65_000; n++) {
    const ip = `10.96.${Math.floor(n / 250)}.${(n % 250) + 2}`;
    if (!taken.has(ip)) return ip;
  }
  return 'None';
}

/** What the API server defaults and allocates on a Service. */
function withServiceDefaults(ctx: ControllerContext, service: KubeObject): KubeObject {
  const spec = (service.spec ?? {}) as ServiceSpec & Record<string, unknown>;
  if (spec.clusterIP && spec.ports?.every((p) => p.protocol && p.targetPort !== undefined)) return service;
  const clusterIP = spec.clusterIP ?? allocateClusterIP(ctx);
  const ports = (spec.ports ?? []).map((p) => ({ protocol: 'TCP', targetPort: p.port, ...p }));
  return ctx.store.update(TYPES.services, {
    ...service,
    spec: {
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      ...spec,
      clusterIP,
      clusterIPs: clusterIP === 'None' ? ['None'] : [clusterIP],
      ports,
    },
    status: service.status ?? { loadBalancer: {} },
  });
}

/** A Service port's target on one pod: a number, or a named container port; undefined when the pod has no such port. */
function targetPortOn(pod: KubeObject, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  const containers = ((pod.spec ?? {}) as { containers?: Array<{ ports?: ContainerPort[] }> }).containers ?? [];
  return containers.flatMap((c) => c.ports ?? []).find((p) => p.name === target)?.containerPort;
}

function addressOf(pod: KubeObject): Record<string, unknown> {
  return {
    ip: podStatus(pod).podIP ?? '',
    nodeName: (pod.spec as { nodeName?: string } | undefined)?.nodeName,
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
}

function ownedBy(service: KubeObject): Array<Record<string, unknown>> {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      name: service.metadata.name,
      uid: service.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

export function reconcileServiceEndpoints(ctx: ControllerContext, namespace: string, name: string): void {
  const stored = ctx.store.get(TYPES.services, namespace, name);
  if (!stored) return;
  const service = withServiceDefaults(ctx, stored);
  const spec = (service.spec ?? {}) as ServiceSpec;
  if (!spec.selector || Object.keys(spec.selector).length === 0 || spec.type === 'ExternalName') return;
  const pods = ctx.store
    .list(TYPES.pods, { namespace })
    .items.filter((pod) => isPodActive(pod) && podStatus(pod).podIP && mapSelectorMatches(spec.selector, pod.metadata.labels));
  const ports = spec.ports ?? [];
  // One subset per resolved port set; pods whose named ports differ would need more, a rare case.
  const resolved = ports.map((port) => ({ port, target: pods.map((pod) => targetPortOn(pod, port)).find((t) => t !== undefined) }));
  const endpointPorts = resolved
    .filter((r) => r.target !== undefined)
    .map(({ port, target }) => ({ ...(port.name ? { name: port.name } : {}), port: target!, protocol: port.protocol ?? 'TCP' }));
  const ready = pods.filter(isPodReady);
  const notReady = pods.filter((pod) => !isPodReady(pod));
  const subset: Record<string, unknown> = { ports: endpointPorts };
  if (ready.length > 0) subset.addresses = ready.map(addressOf);
  if (notReady.length > 0) subset.notReadyAddresses = notReady.map(addressOf);
  ctx.writeIfChanged(TYPES.endpoints, {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace, labels: { ...(service.metadata.labels ?? {}) }, ownerReferences: ownedBy(service) },
    subsets: pods.length > 0 ? [subset] : [],
  });
  writeEndpointSlice(ctx, service, pods, endpointPorts);
}

function writeEndpointSlice(ctx: ControllerContext, service: KubeObject, pods: KubeObject[], ports: Array<Record<string, unknown>>): void {
  const name = service.metadata.name ?? '';
  ctx.writeIfChanged(TYPES.endpointSlices, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${name}-slice`,
      namespace: service.metadata.namespace,
      labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: ownedBy(service),
    },
    addressType: 'IPv4',
    endpoints: pods.map((pod) => ({
      addresses: [podStatus(pod).podIP ?? ''],
      conditions: { ready: isPodReady(pod), serving: isPodReady(pod), terminating: false },
      nodeName: (pod.spec as { nodeName?: string } | undefined)?.nodeName,
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
    })),
    ports,
  });
}
