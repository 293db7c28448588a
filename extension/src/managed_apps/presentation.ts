// How an app looks in the Managed Apps view, without VS Code types (the tree provider maps a
// NodePresentation to a TreeItem). contextValue `kubernetesAgents.managedApp.<state>` drives the menus:
// install/upgrade when not busy, uninstall when installed, logs whenever a log may exist.
import type { NodePresentation } from '../trees/nodes';
import type { AppStatus } from './model';
import type { AppState } from './state';

const ICONS: Record<AppState, { id: string; color?: string }> = {
  installable: { id: 'cloud-download' },
  scheduled: { id: 'watch' },
  installing: { id: 'sync~spin' },
  updating: { id: 'sync~spin' },
  uninstalling: { id: 'sync~spin' },
  installed: { id: 'pass-filled', color: 'charts.green' },
  updated: { id: 'pass-filled', color: 'charts.green' },
  externally_installed: { id: 'pass', color: 'charts.blue' },
  errored: { id: 'error', color: 'charts.red' },
  update_errored: { id: 'error', color: 'charts.red' },
  uninstall_errored: { id: 'error', color: 'charts.red' },
};

const HINTS: Partial<Record<AppState, string>> = {
  errored: 'The install failed: Show Install Logs tells why.',
  update_errored: 'The upgrade failed: Show Install Logs tells why.',
  uninstall_errored: 'The uninstall failed: Show Install Logs tells why.',
  externally_installed: 'Pods of this release exist, installed outside this extension.',
};

export function presentAppStatus(parentId: string, status: AppStatus): NodePresentation {
  const version = status.installedVersion ? ` ${status.installedVersion}` : '';
  const hint = HINTS[status.state];
  return {
    id: `${parentId}/app/${status.app}`,
    label: status.title,
    description: `${status.state.replace(/_/g, ' ')}${version}`,
    tooltip: [
      `${status.title} (${status.app}): ${status.state}`,
      status.podName ? `helm pod gitlab-managed-apps/${status.podName}` : '',
      hint ?? '',
    ]
      .filter(Boolean)
      .join('\n'),
    contextValue: `kubernetesAgents.managedApp.${status.state}`,
    icon: ICONS[status.state],
    collapsible: false,
  };
}
