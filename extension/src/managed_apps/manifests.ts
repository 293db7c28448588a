// The Kubernetes objects of an install, upgrade or uninstall: the values ConfigMap and the
// one-off helm pod. Pure functions, so tests can check them without a cluster.
import type { CatalogApp } from './catalog';
import {
  ACTION_LABEL,
  APP_LABEL,
  MANAGED_APPS_NAMESPACE,
  configMountPath,
  podName,
  releaseName,
  valuesConfigMapName,
  type AppAction,
} from './names';

export const HELM_IMAGE = 'alpine/helm:3.14.4';
const CONFIG_VOLUME = 'configuration-volume';

export interface ConfigMapManifest {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> };
  data: Record<string, string>;
}

export function valuesConfigMap(app: CatalogApp, valuesText: string, annotations?: Record<string, string>): ConfigMapManifest {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: valuesConfigMapName(app.name),
      namespace: MANAGED_APPS_NAMESPACE,
      labels: { [APP_LABEL]: app.name },
      ...(annotations ? { annotations } : {}),
    },
    data: {
      'values.yaml': valuesText,
      chart: app.chart,
      repository: app.repository.name,
      'repository-url': app.repository.url,
      version: app.version,
    },
  };
}

/** The shell script the helm container runs. Every word comes from the validated catalog. */
export function helmScript(app: CatalogApp, action: AppAction): string {
  const release = releaseName(app.name);
  if (action === 'uninstall') return `helm uninstall ${release} --namespace ${MANAGED_APPS_NAMESPACE}`;
  return [
    `helm repo add ${app.repository.name} ${app.repository.url}`,
    'helm repo update',
    `helm upgrade --install ${release} ${app.chart} --atomic --version ${app.version}` +
      ` -f ${configMountPath(app.name)}/values.yaml --namespace ${MANAGED_APPS_NAMESPACE}`,
  ].join(' && ');
}

export function helmPod(app: CatalogApp, action: AppAction): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podName(app.name, action),
      namespace: MANAGED_APPS_NAMESPACE,
      labels: { [ACTION_LABEL]: action, [APP_LABEL]: app.name },
    },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'helm',
          image: HELM_IMAGE,
          command: ['sh', '-c', helmScript(app, action)],
          env: [{ name: 'HELM_VERSION', value: '3' }],
          volumeMounts: [{ name: CONFIG_VOLUME, mountPath: configMountPath(app.name) }],
        },
      ],
      volumes: [
        { name: CONFIG_VOLUME, configMap: { name: valuesConfigMapName(app.name), items: [{ key: 'values.yaml', path: 'values.yaml' }] } },
      ],
    },
  };
}
