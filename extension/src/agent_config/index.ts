// The agent-config "language model" for the editor: pure functions without `vscode`, which the
// extension wraps into completion, hover, diagnostic and code-action providers.
import { agentNameFromPath, parseAgentConfig, type ConfigDiagnostic } from '../../../agent/shared/agent_config';

export { completionsAt, type ConfigCompletionItem } from './completion';
export { hoverAt } from './hover';

/** Diagnostics for an agent config text (the validator kas uses); `fileName` checks the agent name. */
export function diagnosticsFor(text: string, fileName?: string): ConfigDiagnostic[] {
  return parseAgentConfig(text, fileName === undefined ? {} : { fileName }).diagnostics;
}

/** Whether a file is an agent config: `.gitlab/agents/<name>/config.yaml` or `.yml`. */
export function isAgentConfigPath(fileName: string): boolean {
  return agentNameFromPath(fileName) !== undefined;
}
