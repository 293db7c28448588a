// The agent configuration schema and validator, shared by kas and the extension.
export type {
  AgentConfig,
  CiAccess,
  CiAccessAs,
  CiAccessEntry,
  ConfigDiagnostic,
  ConfigFix,
  ConfigPosition,
  ConfigRange,
  ConfigSeverity,
  ConfigTextEdit,
  ContainerScanning,
  FluxConfig,
  Impersonation,
  LogLevel,
  Observability,
  ParseResult,
  RemoteDevelopment,
  ResourceRequirements,
  UserAccess,
  UserAccessAs,
} from './types';
export { DiagnosticCodes } from './types';
export { agentNameFromPath, validateAgentName, MAX_AGENT_NAME_LENGTH } from './agent_name';
export { parseAgentConfig, MAX_CONFIG_BYTES, MAX_ALIAS_COUNT, MAX_DIAGNOSTICS, type ParseOptions } from './parse';
export { validateConfigFiles, EXIT_CLEAN, EXIT_INVALID, EXIT_UNREADABLE } from './validate_files';
export { AGENT_CONFIG_SCHEMA, allowedKeys, enumChoices, formatPath, resolveSchema, schemaAtPath, type JsonSchema } from './schema_nav';
export { applyEdits } from './apply_edits';
