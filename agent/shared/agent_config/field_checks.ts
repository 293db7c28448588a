// Values the reference accepts but that will not work as meant: warnings, never errors, so a
// config kas would take is never refused here. The reference checks these fields only for
// type (and, for some, non-emptiness); what they must look like shows only when the value is
// used (a namespace that cannot exist, a cadence no scheduler reads, a quantity Kubernetes
// refuses), so the editor says it early.
import type { Document } from 'yaml';
import { isCronSchedule } from './cron';
import { diagnosticAt } from './diagnostic_builders';
import { formatPath } from './schema_nav';
import { DiagnosticCodes, type ConfigDiagnostic } from './types';
import { keyAnchor, locate, valueAnchor, type YamlSource } from './yaml_source';

type Pattern = readonly (string | '*')[];
type Path = (string | number)[];

interface FieldProblem {
  path: Path;
  message: string;
  /** Underline the key rather than the value (for a missing companion key). */
  onKey?: boolean;
}

interface FieldRule {
  pattern: Pattern;
  /** A sentence about the value, or undefined when it is fine; only called for strings. */
  check: (value: string) => string | undefined;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

const checkNamespace = (value: string): string | undefined =>
  value === '' || (value.length <= 63 && NAMESPACE.test(value))
    ? undefined
    : `${JSON.stringify(value)} is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit): kas accepts it, but the cluster refuses it when it is used`;

const checkUrl = (value: string): string | undefined => {
  if (value === '') return undefined;
  try {
    if (['http:', 'https:'].includes(new URL(value).protocol)) return undefined;
  } catch {
    // reported below
  }
  return `${JSON.stringify(value)} is not an http:// or https:// URL: agentk cannot notify Flux there`;
};

const checkCadence = (value: string): string | undefined =>
  value === '' || isCronSchedule(value)
    ? undefined
    : `${JSON.stringify(value)} is not a schedule agentk can run: use five cron fields such as "0 2 * * *", or @daily, @hourly, @weekly, @monthly, @yearly, @every 24h`;

const checkQuantity = (value: string): string | undefined =>
  value === '' || QUANTITY.test(value)
    ? undefined
    : `${JSON.stringify(value)} is not a Kubernetes quantity such as 500m, 2 or 512Mi: the cluster refuses it when it is used`;

const RESOURCE_OWNERS: readonly Pattern[] = [
  ['container_scanning', 'resource_requirements'],
  ['remote_development', 'default_resources_per_workspace_container'],
  ['remote_development', 'max_resources_per_workspace'],
];

const RULES: readonly FieldRule[] = [
  { pattern: ['ci_access', 'projects', '*', 'default_namespace'], check: checkNamespace },
  { pattern: ['ci_access', 'groups', '*', 'default_namespace'], check: checkNamespace },
  { pattern: ['remote_development', 'gitlab_workspaces_proxy', 'namespace'], check: checkNamespace },
  { pattern: ['container_scanning', 'vulnerability_report', 'namespaces', '*'], check: checkNamespace },
  { pattern: ['container_scanning', 'vulnerability_report', 'filters', '*', 'namespaces', '*'], check: checkNamespace },
  { pattern: ['flux', 'webhook_receiver_url'], check: checkUrl },
  { pattern: ['container_scanning', 'cadence'], check: checkCadence },
  ...RESOURCE_OWNERS.flatMap((owner) =>
    ['requests', 'limits'].flatMap((kind) =>
      ['cpu', 'memory'].map((amount) => ({ pattern: [...owner, kind, amount], check: checkQuantity })),
    ),
  ),
];

/** The problems found on plain data, without positions (the fast path asks only whether any). */
export function findFieldProblems(data: Record<string, unknown>): FieldProblem[] {
  const problems = RULES.flatMap((rule) =>
    matches(data, rule.pattern).flatMap(({ path, value }) => {
      const message = typeof value === 'string' ? rule.check(value) : undefined;
      return message === undefined ? [] : [{ path, message: `${formatPath(path)}: ${message}` }];
    }),
  );
  return [...problems, ...remoteDevelopmentProblems(data)];
}

/** GitLab creates no workspace for an agent without a DNS zone; kas does not check it. */
function remoteDevelopmentProblems(data: Record<string, unknown>): FieldProblem[] {
  const remote = data.remote_development as Record<string, unknown> | undefined;
  if (remote?.enabled !== true || (typeof remote.dns_zone === 'string' && remote.dns_zone !== '')) return [];
  return [
    {
      path: ['remote_development', 'enabled'],
      message: 'remote_development is enabled without dns_zone: GitLab creates no workspaces on this agent until dns_zone is set',
      onKey: true,
    },
  ];
}

function matches(value: unknown, pattern: Pattern, path: Path = []): { path: Path; value: unknown }[] {
  if (pattern.length === 0) return [{ path, value }];
  if (value === null || typeof value !== 'object') return [];
  const [head, ...rest] = pattern;
  if (head === '*') {
    return Array.isArray(value) ? value.flatMap((item, index) => matches(item, rest, [...path, index])) : [];
  }
  if (Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, head!)) return [];
  return matches((value as Record<string, unknown>)[head!], rest, [...path, head!]);
}

export function fieldDiagnostics(source: YamlSource, doc: Document, data: Record<string, unknown>): ConfigDiagnostic[] {
  return findFieldProblems(data).map((problem) => {
    const located = locate(doc, problem.path);
    return diagnosticAt(source, problem.onKey === true ? keyAnchor(located) : valueAnchor(located), {
      severity: 'warning',
      code: DiagnosticCodes.doubtfulValue,
      message: problem.message,
      path: problem.path,
    });
  });
}
