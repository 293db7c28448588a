// The data as the reference reads it, before and after validation. kas reads config.yaml as
// YAML 1.1 turned into protobuf JSON: a key given without a value (null) is the same as a key
// left out, an enum may be given by its number, and `gitops` is skipped. Validation sees the
// data with those nulls dropped; the returned config gets the reference's defaults filled in.
import { resolveSchema, schemaAtPath, type JsonSchema } from './schema_nav';
import type { AgentConfig, LogLevel } from './types';

/**
 * Drops known keys whose value is null, as protobuf JSON does: `ci_access:` alone is no
 * ci_access at all. Unknown keys stay, so they are still refused. Items of lists stay too:
 * a null item is an error there, as in the reference.
 */
export function dropNullValues(data: Record<string, unknown>): Record<string, unknown> {
  dropIn(data, schemaAtPath([]));
  return data;
}

function dropIn(value: unknown, schema: JsonSchema | undefined): void {
  if (schema === undefined || value === null || typeof value !== 'object') return;
  const resolved = resolveSchema(schema);
  if (Array.isArray(value)) {
    if (resolved.items !== undefined) for (const item of value) dropIn(item, resolved.items);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const property = resolved.properties?.[key];
    if (property === undefined) continue;
    if (record[key] === null) delete record[key];
    else dropIn(record[key], property);
  }
}

/** Log levels by their protobuf enum numbers (the reference's `log_level_enum`). */
export const LOG_LEVEL_BY_NUMBER: readonly LogLevel[] = ['info', 'debug', 'warn', 'error'];

/**
 * The validated data as the config kas and agentk use: gitops dropped (it has no effect),
 * log levels by name, and user_access.access_as defaulting to the agent's own identity.
 */
export function toAgentConfig(data: Record<string, unknown>): AgentConfig {
  const { gitops: _ignored, ...rest } = data;
  const config = rest as AgentConfig & { user_access?: { access_as?: unknown } };
  const logging = config.observability?.logging as Record<string, unknown> | undefined;
  if (logging !== undefined) {
    for (const key of ['level', 'grpc_level']) {
      const level = logging[key];
      if (typeof level === 'number') logging[key] = LOG_LEVEL_BY_NUMBER[level];
    }
  }
  if (config.user_access !== undefined && config.user_access.access_as === undefined) config.user_access.access_as = { agent: {} };
  return config as AgentConfig;
}
