// The active port-forwards of the window, shared by the status bar and the Agents view's
// Port Forwards node. A forward is listed from the moment its local port listens until it is
// stopped or ends by itself (its pod gone); every change of any forward (status, connections)
// reaches every listener. No vscode types here, so it runs in tests as it runs in VS Code.
import type { ClusterParts } from '../kas_client/kube_client';
import { PortForward, type PortForwardState, type PortForwardTarget } from './port_forward';

export interface ForwardHooks {
  /** A connection through the forward failed (the forward itself goes on). */
  onError?(forward: PortForward, message: string): void;
  /** The forward ended by itself (not stopped); it has left the list. */
  onEnded?(forward: PortForward, state: PortForwardState): void;
}

export class PortForwardList {
  private readonly forwards = new Set<PortForward>();
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` after every change; the returned function unsubscribes. */
  onDidChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get all(): readonly PortForward[] {
    return [...this.forwards];
  }

  /** Listens on the target's local port and lists the forward; rejects (unlisted) when the port cannot be taken. */
  async start(parts: () => Promise<ClusterParts>, target: PortForwardTarget, hooks: ForwardHooks = {}): Promise<PortForward> {
    let lastError: string | undefined;
    const forward: PortForward = new PortForward(parts, target, (state) => {
      if (state.lastError !== undefined && state.lastError !== lastError) {
        lastError = state.lastError;
        hooks.onError?.(forward, state.lastError);
      }
      if (state.status === 'ended' && state.endReason !== 'STOPPED' && this.forwards.delete(forward)) hooks.onEnded?.(forward, state);
      this.changed();
    });
    await forward.start();
    this.forwards.add(forward);
    this.changed();
    return forward;
  }

  async stop(forward: PortForward): Promise<void> {
    this.forwards.delete(forward);
    await forward.stop();
    this.changed();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((forward) => this.stop(forward)));
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
