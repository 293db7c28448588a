// Open Terminal (exec into a container through kas, in a Pseudoterminal) and Port Forward
// (a local port to a pod port through kas, listed in the status bar and the Agents view, each stoppable). The
// streams themselves (streams/) know nothing of VS Code; this file only binds them to it.
import * as vscode from 'vscode';
import { userMessage } from '../kas_client/errors';
import { podName, type ClusterParts, type Pod } from '../kas_client/kube_client';
import type { Services } from '../services';
import { ExecSession } from '../streams/exec_session';
import { endText } from '../streams/port_forward';
import type { PortForwardList } from '../streams/port_forward_list';
import { containerNames } from '../trees/format';
import type { ContainerNode, PodNode, PortForwardNode } from '../trees/nodes';

async function clusterParts(services: Services, connectionId: string, agentId: string): Promise<ClusterParts> {
  const session = await services.sessions.get(connectionId);
  return session.kubeconfigParts(agentId);
}

interface ExecTerminal {
  pty: vscode.Pseudoterminal;
  output(text: string): void;
}

/** A Pseudoterminal fed by an exec session: keystrokes in, output out, resize; the caller writes output. */
function execTerminal(open: () => Promise<ExecSession>, title: string): ExecTerminal {
  const write = new vscode.EventEmitter<string>();
  let session: ExecSession | undefined;
  let size: vscode.TerminalDimensions | undefined;
  const pty: vscode.Pseudoterminal = {
    onDidWrite: write.event,
    open(dimensions) {
      size = dimensions;
      write.fire(`\x1b[2mConnecting to ${title} through kas…\x1b[0m\r\n`);
      open().then(
        (opened) => {
          session = opened;
          if (size) opened.resize(size.columns, size.rows);
        },
        (error: unknown) => write.fire(`\r\n\x1b[31mCould not open the terminal: ${userMessage(error)}\x1b[0m\r\n`),
      );
    },
    handleInput: (data) => session?.write(data),
    setDimensions(dimensions) {
      size = dimensions;
      session?.resize(dimensions.columns, dimensions.rows);
    },
    close: () => session?.close(),
  };
  return { pty, output: (text) => write.fire(text) };
}

export async function openTerminal(services: Services, node?: PodNode | ContainerNode): Promise<void> {
  if (!node) return;
  const pod = node.kind === 'pod' ? podName(node.pod) : node.podName;
  let container = node.kind === 'container' ? node.container : undefined;
  if (!container && node.kind === 'pod') {
    const names = containerNames(node.pod);
    container = names.length <= 1 ? names[0] : await vscode.window.showQuickPick(names, { title: `Container of ${pod}` });
  }
  if (!container) return;
  const title = `${node.namespace}/${pod}:${container}`;
  const shell = vscode.workspace.getConfiguration('kubernetesAgents.terminal').get<string>('shell', 'sh');
  const terminal: ExecTerminal = execTerminal(async () => {
    const parts = await clusterParts(services, node.connectionId, node.agentId);
    return ExecSession.open(
      parts,
      { namespace: node.namespace, pod, container, command: [shell], tty: true },
      {
        output: (data) => terminal.output(data.toString('utf8')),
        // The terminal stays open after the exit so its last output and the code can be read.
        exit: (code, message) =>
          terminal.output(`\r\n\x1b[2m[process exited with code ${code ?? 'unknown'}${message ? `: ${message}` : ''}]\x1b[0m\r\n`),
      },
    );
  }, title);
  vscode.window.createTerminal({ name: `Pod ${title}`, pty: terminal.pty }).show();
}

/** Attach: the container's own process in a terminal (its output; keystrokes to its stdin). */
export function openAttachTerminal(
  services: Services,
  ref: { connectionId: string; agentId: string; namespace?: string; name: string },
  container: string,
): void {
  const title = `${ref.namespace}/${ref.name}:${container}`;
  const terminal: ExecTerminal = execTerminal(async () => {
    const parts = await clusterParts(services, ref.connectionId, ref.agentId);
    return ExecSession.open(
      parts,
      { namespace: ref.namespace ?? 'default', pod: ref.name, container, command: [], tty: false, attach: true },
      {
        output: (data) => terminal.output(data.toString('utf8').replace(/\r?\n/g, '\r\n')),
        exit: (code, message) =>
          terminal.output(
            `\r\n\x1b[2m[detached: the container ended with code ${code ?? 'unknown'}${message ? `: ${message}` : ''}]\x1b[0m\r\n`,
          ),
      },
    );
  }, title);
  vscode.window.createTerminal({ name: `Attach ${title}`, pty: terminal.pty }).show();
}

/**
 * Starts and stops forwards; the list itself is the model's (the Agents view shows it), and
 * this shows it in the status bar too. Each forward stops from its tree row, the status bar or the palette.
 */
export class PortForwards implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private readonly unsubscribe: () => void;

  constructor(private readonly list: PortForwardList) {
    // An argument that is no tree node: the command then asks which forward, rather than
    // stopping the one that happens to be selected in the Agents view.
    this.item.command = { command: 'kubernetesAgents.stopPortForward', title: 'Stop Port Forward', arguments: [{ pick: true }] };
    this.unsubscribe = list.onDidChange(() => this.render());
    this.render();
  }

  async start(services: Services, node: PodNode): Promise<void> {
    const ports = declaredPorts(node.pod);
    const remote = await vscode.window.showInputBox({
      title: `Port Forward ${node.namespace}/${podName(node.pod)}`,
      prompt: 'Pod port, or local:pod (e.g. 8080 or 9000:8080; local 0 picks a free port)',
      value: ports[0] !== undefined ? String(ports[0]) : '',
      validateInput: (text) => (/^(\d{1,5}:)?\d{1,5}$/.test(text.trim()) ? undefined : 'a port (1–65535) or local:pod'),
    });
    if (!remote) return;
    const [localText, remoteText] = remote.includes(':') ? remote.split(':') : [remote, remote];
    const forward = await this.list.start(
      () => clusterParts(services, node.connectionId, node.agentId),
      { namespace: node.namespace, pod: podName(node.pod), remotePort: Number(remoteText), localPort: Number(localText) },
      {
        onError: (ended, message) => services.output.appendLine(`Port forward ${ended.label}: ${message}`),
        onEnded: (ended, state) =>
          void vscode.window.showWarningMessage(`Port forward ${ended.label} ended: ${endText(state.endReason ?? 'STOPPED')}.`),
      },
    );
    void vscode.window.showInformationMessage(`Forwarding ${forward.label}`, 'Open in Browser').then((choice) => {
      if (choice) void vscode.env.openExternal(vscode.Uri.parse(`http://127.0.0.1:${forward.state.localPort}/`));
    });
  }

  /** The forward of a tree row, else one picked from the list. */
  async stop(node?: PortForwardNode): Promise<void> {
    const forward =
      node?.forward ??
      (
        await vscode.window.showQuickPick(
          this.list.all.map((f) => ({ label: f.label, description: `${f.state.activeConnections} open`, forward: f })),
          { title: 'Stop Port Forward' },
        )
      )?.forward;
    if (forward) await this.list.stop(forward);
  }

  private render(): void {
    const forwards = this.list.all;
    const count = forwards.length;
    if (count === 0) return void this.item.hide();
    const waiting = forwards.filter((f) => f.state.status === 'reconnecting').length;
    this.item.text = `$(plug) ${count} port forward${count === 1 ? '' : 's'}${waiting ? ` (${waiting} reconnecting)` : ''}`;
    this.item.tooltip = forwards.map((f) => `${f.label}${f.state.status === 'reconnecting' ? ' — waiting for the agent' : ''}`).join('\n');
    this.item.show();
  }

  dispose(): void {
    this.unsubscribe();
    void this.list.stopAll();
    this.item.dispose();
  }
}

function declaredPorts(pod: Pod): number[] {
  return (pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
}
