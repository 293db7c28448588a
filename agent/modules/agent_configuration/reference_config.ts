// Our parsed agent config as the reference's agentcfg.AgentConfiguration (what its kas sends an
// agent): the same snake_case keys as the YAML, durations as google.protobuf.Duration, and the
// identifiers kas adds. user_access stays out, as in the reference: only kas uses it. Keys the
// proto does not know (ours only) are dropped by fromObject.
import { parseDuration } from '../../shared/agent_config/go_duration';
import type { AgentConfig } from '../../shared/agent_config/types';

export interface ReferenceConfigIds {
  agentId: number;
  /** The config repository: a number is the reference's project_id, anything else its project_path. */
  projectId: string;
}

/** Duration fields of AgentConfiguration, by their path from the top. */
const DURATION_PATHS: ReadonlyArray<readonly string[]> = [
  ['remote_development', 'partial_sync_interval'],
  ['remote_development', 'full_sync_interval'],
];
const MANIFEST_PROJECT_DURATIONS = ['reconcile_timeout', 'prune_timeout'];

export function referenceAgentConfiguration(config: AgentConfig, ids: ReferenceConfigIds): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, unknown>;
  delete copy.user_access;
  for (const path of DURATION_PATHS) convertDuration(copy, path);
  const manifestProjects = (copy.gitops as { manifest_projects?: unknown } | undefined)?.manifest_projects;
  if (Array.isArray(manifestProjects)) {
    for (const project of manifestProjects) for (const key of MANIFEST_PROJECT_DURATIONS) convertDuration(project, [key]);
  }
  copy.agent_id = ids.agentId;
  if (/^\d+$/u.test(ids.projectId)) copy.project_id = Number(ids.projectId);
  else copy.project_path = ids.projectId;
  return copy;
}

function convertDuration(target: unknown, path: readonly string[]): void {
  let parent = target as Record<string, unknown> | undefined;
  for (const key of path.slice(0, -1)) parent = parent?.[key] as Record<string, unknown> | undefined;
  const last = path[path.length - 1]!;
  const text = parent?.[last];
  if (typeof text !== 'string' || !parent) return;
  const ms = parseDuration(text);
  if (ms === undefined) {
    delete parent[last];
    return;
  }
  const seconds = Math.floor(ms / 1000);
  parent[last] = { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Keys kas adds to AgentConfiguration that the config file does not have. */
const KAS_ADDED_KEYS = ['agent_id', 'project_id', 'project_path', 'gitlab_external_url'];

/** The reference's AgentConfiguration (as toObject gives it: snake_case, enums by name) as our config. */
export function agentConfigOfReference(configuration: Record<string, unknown> | undefined): AgentConfig {
  const copy = structuredClone(configuration ?? {});
  for (const key of KAS_ADDED_KEYS) delete copy[key];
  for (const path of DURATION_PATHS) durationToText(copy, path);
  const manifestProjects = (copy.gitops as { manifest_projects?: unknown } | undefined)?.manifest_projects;
  if (Array.isArray(manifestProjects)) {
    for (const project of manifestProjects) for (const key of MANIFEST_PROJECT_DURATIONS) durationToText(project, [key]);
  }
  return copy as AgentConfig;
}

function durationToText(target: unknown, path: readonly string[]): void {
  let parent = target as Record<string, unknown> | undefined;
  for (const key of path.slice(0, -1)) parent = parent?.[key] as Record<string, unknown> | undefined;
  const last = path[path.length - 1]!;
  const duration = parent?.[last] as { seconds?: number; nanos?: number } | undefined;
  if (!parent || typeof duration !== 'object' || duration === null) return;
  const ms = (duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6;
  parent[last] = ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
