// The one place kas reads the agent config schema module from (agent/shared/agent_config/).
export { parseAgentConfig, validateConfigFiles, validateAgentName } from '../../shared/agent_config';
export type { AgentConfig, ConfigDiagnostic, ParseResult } from '../../shared/agent_config';
