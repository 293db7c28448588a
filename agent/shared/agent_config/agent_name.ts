// Agent names come from the folder that holds the config: .gitlab/agents/<name>/config.yaml.

const AGENT_CONFIG_PATH = /(?:^|\/)\.gitlab\/agents\/([^/]+)\/config\.ya?ml$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_AGENT_NAME_LENGTH = 63;

/** The agent name of a config file path (either slash style), or undefined if it is not one. */
export function agentNameFromPath(path: string): string | undefined {
  return AGENT_CONFIG_PATH.exec(path.replace(/\\/g, '/'))?.[1];
}

/** An error message when the name is not a valid agent name (a DNS label), else undefined. */
export function validateAgentName(name: string): string | undefined {
  if (name.length === 0) return 'agent name must not be empty';
  if (name.length > MAX_AGENT_NAME_LENGTH) {
    return `agent name "${name}" is ${name.length} characters long; at most ${MAX_AGENT_NAME_LENGTH} are allowed`;
  }
  if (!DNS_LABEL.test(name)) {
    return `agent name "${name}" must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit`;
  }
  return undefined;
}
