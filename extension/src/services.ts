// What commands and views share, created once in activate().
import type * as vscode from 'vscode';
import type { ConnectionStore } from './connections/connection_store';
import type { SessionRegistry } from './connections/sessions';
import type { AgentsModel } from './trees/agents_model';

export interface Services {
  context: vscode.ExtensionContext;
  store: ConnectionStore;
  sessions: SessionRegistry;
  model: AgentsModel;
  output: vscode.LogOutputChannel;
  refreshViews(): void;
}

export const COMMAND_PREFIX = 'kubernetesAgents';
