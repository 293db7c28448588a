// The one place kas reads the agent config schema module from (agent/modules/agent_configuration/schema/).
export { parseAgentConfig, validateConfigFiles, validateAgentName } from './schema';
export type { AgentConfig, ConfigDiagnostic, ParseResult } from './schema';
