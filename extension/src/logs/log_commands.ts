// Show Previous Logs: the logs of a container's instance before its last restart. On a pod or
// container row it opens at once; from the palette it asks agent → namespace → pod → container,
// each a QuickPick fed live from the agent's watch cache.
import * as vscode from 'vscode';
import { pickAgent } from '../commands/pick_agent';
import { podName } from '../kas_client/kube_client';
import type { Services } from '../services';
import { containerNames } from '../trees/format';
import type { ContainerNode, PodNode } from '../trees/nodes';
import type { LogTarget } from '../../../webviews/logview/messages';
import { openLogPanel } from './log_panel';
import { pickLogTarget, type ChoiceList } from './log_target_picker';

export async function showPreviousLogs(services: Services, node?: PodNode | ContainerNode): Promise<void> {
  const chosen = node ? await fromNode(node) : await fromPalette(services);
  if (!chosen) return;
  const tailLines = vscode.workspace.getConfiguration('kubernetesAgents.logs').get<number>('tailLines', 500);
  const client = await services.model.kube(chosen.connectionId, chosen.agentId);
  openLogPanel(services.context.extensionUri, client, chosen.target, { follow: false, tailLines, previous: true });
}

interface Chosen {
  connectionId: string;
  agentId: string;
  target: LogTarget;
}

async function fromNode(node: PodNode | ContainerNode): Promise<Chosen | undefined> {
  const pod = node.kind === 'pod' ? podName(node.pod) : node.podName;
  let container = node.kind === 'container' ? node.container : undefined;
  if (node.kind === 'pod') {
    const names = containerNames(node.pod);
    container = names.length <= 1 ? names[0] : await vscode.window.showQuickPick(names, { title: `Container of ${pod}` });
  }
  if (!container) return undefined;
  return { connectionId: node.connectionId, agentId: node.agentId, target: { namespace: node.namespace, pod, container } };
}

async function fromPalette(services: Services): Promise<Chosen | undefined> {
  const agent = await pickAgent(services);
  if (!agent) return undefined;
  const cache = services.model.caches.forAgent(agent.connectionId, agent.agentId);
  const target = await pickLogTarget(cache, agent.agentName, 'Previous Logs', quickPickLive);
  return target && { connectionId: agent.connectionId, agentId: agent.agentId, target };
}

/** LivePick on a QuickPick: busy while its feed lists, items replaced on every change signal. */
function quickPickLive<T>(
  title: string,
  read: () => ChoiceList<T>,
  subscribe: (onChange: () => void) => { dispose(): void },
): Promise<T | undefined> {
  return new Promise((resolve) => {
    const quickPick = vscode.window.createQuickPick<vscode.QuickPickItem & { value: T }>();
    quickPick.title = title;
    quickPick.matchOnDescription = true;
    const render = () => {
      const list = read();
      quickPick.busy = list.loading;
      quickPick.placeholder = list.problem ?? (list.loading ? 'Loading…' : list.choices.length === 0 ? 'None' : undefined);
      quickPick.items = list.choices.map((c) => ({ label: c.label, description: c.description, value: c.value }));
    };
    const subscription = subscribe(render);
    let picked: T | undefined;
    quickPick.onDidAccept(() => {
      picked = quickPick.selectedItems[0]?.value;
      if (picked !== undefined) quickPick.hide();
    });
    // Disposing the QuickPick disposes its event listeners too.
    quickPick.onDidHide(() => {
      subscription.dispose();
      quickPick.dispose();
      resolve(picked);
    });
    render();
    quickPick.show();
  });
}
