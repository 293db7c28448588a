// Open Terminal (exec into a container through kas, in a Pseudoterminal) and Port Forward
// (a local port to a pod port through kas, listed in the status bar, each stoppable). The
// streams themselves (streams/) know nothing of VS Code; this file only binds them to it.
import * as vscode from 'vscode';
import { userMessage } from '../kas_client/errors';
import { podName, type ClusterParts, type Pod } from '../kas_client/kube_client';
import type { Services } from '../services';
import { ExecSession } from '../streams/exec_session';
import { endText, PortForward } from '../streams/port_forward';
import { containerNames } from '../trees/format';
import type { ContainerNode, PodNode } from '../trees/nodes';

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

/** Active forwards, shown in the status bar; each can be stopped from there or the palette. */
export class PortForwards implements vscode.Disposable {
  private readonly forwards = new Set<PortForward>();
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.command = 'kubernetesAgents.stopPortForward';
    this.render();
  }

  get active(): readonly PortForward[] {
    return [...this.forwards];
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
    const forward = new PortForward(
      () => clusterParts(services, node.connectionId, node.agentId),
      { namespace: node.namespace, pod: podName(node.pod), remotePort: Number(remoteText), localPort: Number(localText) },
      (state) => {
        if (state.lastError) services.output.appendLine(`Port forward ${forward.label}: ${state.lastError}`);
        if (state.status === 'ended' && state.endReason !== 'STOPPED' && this.forwards.delete(forward)) {
          void vscode.window.showWarningMessage(`Port forward ${forward.label} ended: ${endText(state.endReason ?? 'STOPPED')}.`);
        }
        this.render();
      },
    );
    await forward.start();
    this.forwards.add(forward);
    this.render();
    void vscode.window.showInformationMessage(`Forwarding ${forward.label}`, 'Open in Browser').then((choice) => {
      if (choice) void vscode.env.openExternal(vscode.Uri.parse(`http://127.0.0.1:${forward.state.localPort}/`));
    });
  }

  async stopOne(): Promise<void> {
    const picked = await vscode.window.showQuickPick(
      this.active.map((forward) => ({ label: forward.label, description: `${forward.state.activeConnections} open`, forward })),
      { title: 'Stop Port Forward' },
    );
    if (!picked) return;
    await picked.forward.stop();
    this.forwards.delete(picked.forward);
    this.render();
  }

  private render(): void {
    const count = this.forwards.size;
    if (count === 0) return void this.item.hide();
    const waiting = [...this.forwards].filter((f) => f.state.status === 'reconnecting').length;
    this.item.text = `$(plug) ${count} port forward${count === 1 ? '' : 's'}${waiting ? ` (${waiting} reconnecting)` : ''}`;
    this.item.tooltip = [...this.forwards]
      .map((f) => `${f.label}${f.state.status === 'reconnecting' ? ' — waiting for the agent' : ''}`)
      .join('\n');
    this.item.show();
  }

  dispose(): void {
    for (const forward of this.forwards) void forward.stop();
    this.forwards.clear();
    this.item.dispose();
  }
}

function declaredPorts(pod: Pod): number[] {
  return (pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort));
}
