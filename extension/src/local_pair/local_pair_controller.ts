// Start/Stop Local Pair: runs dist/local-pair.js, shows its output in an output channel, and
// registers (then removes) a connection for it. At most one pair runs; it stops with the
// extension (deactivate).
import * as vscode from 'vscode';
import type { Services } from '../services';
import { LocalPairProcess } from './local_pair_process';

export class LocalPairController implements vscode.Disposable {
  private pair: LocalPairProcess | undefined;
  // kas, agentk and dev cluster lines, coloured by the log grammar (syntaxes/).
  private readonly channel = vscode.window.createOutputChannel('Kubernetes Agents: Local Pair', 'agent-workbench-log');

  constructor(private readonly services: Services) {}

  get running(): boolean {
    return this.pair?.running ?? false;
  }

  async start(): Promise<void> {
    if (this.pair?.running) {
      void vscode.window.showInformationMessage('The local pair is already running.');
      return;
    }
    await this.removePairConnections(); // left over from a session that ended abruptly
    const script = vscode.Uri.joinPath(this.services.context.extensionUri, 'dist', 'local-pair.js').fsPath;
    this.channel.show(true);
    // State (dev cluster objects, tokens, the kubeconfig) lives in the extension's storage, and
    // free ports avoid clashing with a pair started by hand on the reference ports.
    const dataDir = vscode.Uri.joinPath(this.services.context.globalStorageUri, 'local-pair').fsPath;
    const pair = new LocalPairProcess(script, (line) => this.channel.appendLine(line), ['--json', '--free-ports', '--data-dir', dataDir]);
    this.pair = pair;
    void pair.exited.then(() => this.onExit(pair));
    await this.setRunningContext(true);
    const ready = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Starting the local pair (dev cluster, kas, agentk)…' },
      () => pair.ready,
    );
    if (this.pair !== pair) return; // stopped while starting
    await this.services.store.add(
      {
        label: `local pair (${ready.agentName})`,
        apiUrl: ready.apiUrl,
        k8sProxyUrl: ready.k8sProxyUrl,
        caFile: ready.caFile,
        origin: 'localPair',
      },
      ready.userToken,
    );
    const summary = `local pair ready: kas API ${ready.apiUrl} k8s proxy ${ready.k8sProxyUrl} agent ${ready.agentName} (id ${ready.agentId})`;
    this.channel.appendLine(summary);
    this.services.output.info(summary);
  }

  async stop(): Promise<void> {
    const pair = this.pair;
    this.pair = undefined;
    await pair?.stop();
    await this.removePairConnections();
    await this.setRunningContext(false);
  }

  dispose(): void {
    void this.stop();
    this.channel.dispose();
  }

  private async onExit(pair: LocalPairProcess): Promise<void> {
    if (this.pair !== pair) return;
    this.pair = undefined;
    await this.removePairConnections();
    await this.setRunningContext(false);
  }

  private async removePairConnections(): Promise<void> {
    const stale = this.services.store.list().filter((c) => c.origin === 'localPair');
    for (const connection of stale) await this.services.store.remove(connection.id);
    if (stale.length > 0) await this.services.model.prune();
  }

  private async setRunningContext(running: boolean): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'kubernetesAgents.localPairRunning', running);
  }
}
