// Names and labels of the objects an app's install uses, derived from the catalog key. Keys
// may hold `_` (cert_manager), which object names and helm release names cannot: those use `-`.
export const MANAGED_APPS_NAMESPACE = 'gitlab-managed-apps';
export const APP_LABEL = 'gitlab.org/application';
export const ACTION_LABEL = 'gitlab.org/action';

export type AppAction = 'install' | 'update' | 'uninstall';

/** Annotation on the values ConfigMap recording a finished install/upgrade ("the release marker"). */
export const RELEASE_STATE_ANNOTATION = 'workbench.gitlab.org/release-state';
export const RELEASE_VERSION_ANNOTATION = 'workbench.gitlab.org/release-version';
/** Annotation on the log ConfigMap: which action's logs it holds. */
export const LOG_ACTION_ANNOTATION = 'workbench.gitlab.org/action';

export function releaseName(app: string): string {
  return app.replace(/_/g, '-');
}

/** Install and update share the pod name, so one app never has two helm runs at once. */
export function podName(app: string, action: AppAction): string {
  return `${action === 'uninstall' ? 'uninstall' : 'install'}-${releaseName(app)}`;
}

export function valuesConfigMapName(app: string): string {
  return `values-content-configuration-${releaseName(app)}`;
}

export function logConfigMapName(app: string): string {
  return `install-log-${releaseName(app)}`;
}

export function configMountPath(app: string): string {
  return `/data/helm/${app}/config`;
}

export function actionOfLabel(label: string | undefined): AppAction | undefined {
  if (label === 'install' || label === 'uninstall') return label;
  if (label === 'update' || label === 'upgrade') return 'update';
  return undefined;
}
