// The one Node of the dev cluster (where the simulated kubelet runs every pod) and the
// `kubernetes` Service in default, as a real cluster has them.
import { StoreError, type ObjectStore } from '../types';
import { nowSeconds, TYPES } from './objects';

export const NODE_INTERNAL_IP = '172.18.0.2';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

function createIfMissing(create: () => void): void {
  try {
    create();
  } catch (err) {
    if (!(err instanceof StoreError && err.code === 409)) throw err;
  }
}

export function ensureNode(store: ObjectStore, name: string): void {
  if (store.get(TYPES.nodes, undefined, name)) return;
  const now = nowSeconds();
  const resources = { cpu: '4', memory: '8146012Ki', pods: '110', 'ephemeral-storage': '61202244Ki' };
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  createIfMissing(() =>
    store.create(TYPES.nodes, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node-role.kubernetes.io/control-plane': '',
        },
      },
      spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status (simulated by the dev cluster)'),
        ],
        addresses: [
          { type: 'InternalIP', address: NODE_INTERNAL_IP },
          { type: 'Hostname', address: name },
        ],
        nodeInfo: {
          kubeletVersion: 'v1.32.0-devcluster',
          kubeProxyVersion: 'v1.32.0-devcluster',
          containerRuntimeVersion: 'simulated://1.0',
          operatingSystem: 'linux',
          architecture: 'amd64',
          osImage: 'Dev cluster (simulated pods)',
          kernelVersion: 'simulated',
          machineID: '',
          systemUUID: '',
          bootID: '',
        },
      },
    }),
  );
}

export function ensureKubernetesService(store: ObjectStore): void {
  if (store.get(TYPES.services, 'default', 'kubernetes')) return;
  createIfMissing(() =>
    store.create(TYPES.services, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: {
        type: 'ClusterIP',
        clusterIP: KUBERNETES_SERVICE_IP,
        clusterIPs: [KUBERNETES_SERVICE_IP],
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
        sessionAffinity: 'None',
      },
      status: { loadBalancer: {} },
    }),
  );
}
