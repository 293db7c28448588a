// Typed shape of the agent configuration (matches assets/agent_config.schema.json) and of the
// diagnostics the validator reports. Both kas and the extension use these types.

export interface AgentConfig {
  ci_access?: CiAccess;
  user_access?: UserAccess;
  observability?: Observability;
  flux?: FluxConfig;
  remote_development?: RemoteDevelopment;
  container_scanning?: ContainerScanning;
}

export interface CiAccess {
  projects?: CiAccessEntry[];
  groups?: CiAccessEntry[];
}

/** A project or group granted CI access; `id` is its full path. */
export interface CiAccessEntry {
  id: string;
  default_namespace?: string;
  access_as?: CiAccessAs;
  environments?: string[];
}

/** Exactly one member is set. */
export type CiAccessAs = { agent: Record<string, never> } | { impersonate: Impersonation } | { ci_job: Record<string, never> };

export interface Impersonation {
  username: string;
  groups?: string[];
  uid?: string;
  extra?: { key: string; val: string[] }[];
}

/** In the file access_as is optional; the parsed config always has it (default: agent). */
export interface UserAccess {
  access_as: UserAccessAs;
  projects?: { id: string }[];
  groups?: { id: string }[];
}

/** Exactly one member is set. */
export type UserAccessAs = { agent: Record<string, never> } | { user: Record<string, never> };

/** In the file a level may also be its number (0 info, 1 debug, 2 warn, 3 error); the parsed config has names. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Observability {
  logging?: { level?: LogLevel; grpc_level?: LogLevel };
  google_profiler?: { enabled?: boolean; project_id?: string; credentials_file?: string; debug_logging?: boolean };
}

export interface FluxConfig {
  webhook_receiver_url?: string;
}

/** Kubernetes quantities, as strings (the reference's fields are strings: `cpu: 1` is refused). */
export interface ResourceAmounts {
  cpu?: string;
  memory?: string;
}

export interface ResourceRequirements {
  requests?: ResourceAmounts;
  limits?: ResourceAmounts;
}

export interface RemoteDevelopment {
  enabled?: boolean;
  dns_zone?: string;
  partial_sync_interval?: string;
  full_sync_interval?: string;
  gitlab_workspaces_proxy?: { namespace?: string };
  network_policy?: { enabled?: boolean; egress?: { allow: string; except?: string[] }[] };
  default_resources_per_workspace_container?: ResourceRequirements;
  max_resources_per_workspace?: ResourceRequirements;
  workspaces_quota?: number;
  workspaces_per_user_quota?: number;
  use_kubernetes_user_namespaces?: boolean;
  default_runtime_class?: string;
  allow_privilege_escalation?: boolean;
  image_pull_secrets?: { name: string; namespace: string }[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  max_active_hours_before_stop?: number;
  max_stopped_hours_before_termination?: number;
  shared_namespace?: string;
}

export interface ContainerScanning {
  cadence: string;
  vulnerability_report?: {
    namespaces?: string[];
    filters?: { namespaces?: string[]; resources?: string[]; containers?: string[]; kinds?: string[] }[];
  };
  resource_requirements?: ResourceRequirements;
}

/** 0-based line and character, as in VS Code and LSP. */
export interface ConfigPosition {
  line: number;
  character: number;
}

export interface ConfigRange {
  start: ConfigPosition;
  end: ConfigPosition;
}

export interface ConfigTextEdit {
  range: ConfigRange;
  newText: string;
}

/** A quick fix: text edits that, applied together, repair the diagnostic. */
export interface ConfigFix {
  title: string;
  edits: ConfigTextEdit[];
}

export type ConfigSeverity = 'error' | 'warning' | 'information';

export interface ConfigDiagnostic {
  severity: ConfigSeverity;
  /** Stable identifier of the kind of problem, e.g. `unknown-key`, `yaml-syntax`. */
  code: string;
  message: string;
  /** Path of keys and indexes to the offending node; [] for the whole document. */
  path: (string | number)[];
  range: ConfigRange;
  fix?: ConfigFix;
}

export interface ParseResult {
  /** Undefined when any diagnostic is an error. */
  config?: AgentConfig;
  diagnostics: ConfigDiagnostic[];
}

/** Diagnostic codes, so that callers can switch on them without string typos. */
export const DiagnosticCodes = {
  yamlSyntax: 'yaml-syntax',
  duplicateKey: 'duplicate-key',
  aliasLimit: 'alias-limit',
  tooLarge: 'file-too-large',
  notMapping: 'not-a-mapping',
  multipleDocuments: 'multiple-documents',
  unknownKey: 'unknown-key',
  removedKey: 'removed-key',
  badValue: 'invalid-value',
  /** A value the reference accepts but that will not work as meant (a warning). */
  doubtfulValue: 'doubtful-value',
  badType: 'invalid-type',
  missingKey: 'missing-key',
  accessAsOneOf: 'access-as-one-of',
  tooMany: 'too-many-items',
  duplicateEntry: 'duplicate-entry',
  agentName: 'invalid-agent-name',
  internalError: 'internal-error',
  tooManyDiagnostics: 'too-many-diagnostics',
} as const;
