// Checks JSON Schema cannot express well: the gitops key that has no effect (with a fix),
// the same project or group listed twice, and the agent name taken from the file's folder.
import type { Document } from 'yaml';
import { agentNameFromPath, validateAgentName } from './agent_name';
import { firstLineRange, diagnosticAt } from './diagnostic_builders';
import { removePairFix } from './fixes';
import { formatPath } from './schema_nav';
import { DiagnosticCodes, type ConfigDiagnostic } from './types';
import { keyAnchor, locate, valueAnchor, type YamlSource } from './yaml_source';

/** gitops has no effect since GitLab 17.0; the reference skips it, so it warns and never refuses. */
export function removedKeyDiagnostics(source: YamlSource, doc: Document, data: Record<string, unknown>): ConfigDiagnostic[] {
  if (!('gitops' in data)) return [];
  const located = locate(doc, ['gitops']);
  const fix = removePairFix(source, located, 'Remove the gitops section (it has no effect)');
  const instead = 'flux' in data ? 'flux is configured for that' : 'deploy from Git with Flux (the flux key) instead';
  return [
    diagnosticAt(source, keyAnchor(located), {
      severity: 'warning',
      code: DiagnosticCodes.removedKey,
      message: `gitops has no effect: the agent's built-in GitOps was removed in GitLab 17.0, and kas ignores this section; ${instead}`,
      path: ['gitops'],
      ...(fix === undefined ? {} : { fix }),
    }),
  ];
}

const ID_LISTS: readonly (readonly string[])[] = [
  ['ci_access', 'projects'],
  ['ci_access', 'groups'],
  ['user_access', 'projects'],
  ['user_access', 'groups'],
];

export interface DuplicateEntry {
  listPath: readonly string[];
  index: number;
  firstIndex: number;
  id: string;
}

/** Projects or groups listed twice in one list (found on plain data, without positions). */
export function findDuplicateEntries(data: Record<string, unknown>): DuplicateEntry[] {
  return ID_LISTS.flatMap((listPath) => {
    const list = listPath.reduce<unknown>((current, key) => (current as Record<string, unknown> | undefined)?.[key], data);
    if (!Array.isArray(list)) return [];
    const firstIndexById = new Map<string, number>();
    return list.flatMap((entry: unknown, index): DuplicateEntry[] => {
      const id = (entry as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return [];
      const firstIndex = firstIndexById.get(id);
      if (firstIndex === undefined) firstIndexById.set(id, index);
      return firstIndex === undefined ? [] : [{ listPath, index, firstIndex, id }];
    });
  });
}

/** A project or group listed twice: only one entry can take effect, which one is a surprise. */
export function duplicateEntryDiagnostics(source: YamlSource, doc: Document, data: Record<string, unknown>): ConfigDiagnostic[] {
  return findDuplicateEntries(data).map(({ listPath, index, firstIndex, id }) => {
    const path = [...listPath, index, 'id'];
    return diagnosticAt(source, valueAnchor(locate(doc, path)), {
      severity: 'warning',
      code: DiagnosticCodes.duplicateEntry,
      message: `"${id}" is listed twice in ${formatPath(listPath)} (first at ${formatPath([...listPath, firstIndex])}); only one entry takes effect`,
      path,
    });
  });
}

export function agentNameDiagnostics(source: { text: string }, fileName: string | undefined): ConfigDiagnostic[] {
  if (fileName === undefined) return [];
  const name = agentNameFromPath(fileName);
  const problem = name === undefined ? undefined : validateAgentName(name);
  if (problem === undefined) return [];
  return [
    {
      severity: 'error',
      code: DiagnosticCodes.agentName,
      message: `${problem} (the name of the folder that holds config.yaml)`,
      path: [],
      range: firstLineRange(source),
    },
  ];
}
