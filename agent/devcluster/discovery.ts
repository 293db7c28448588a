// Discovery documents (/version, /api, /api/v1, /apis, /apis/<group>[/<version>]), all built
// from the resource table. Served in the legacy (unaggregated) form, which kubectl and
// client-go fall back to when the aggregated form is not offered.
import { groupVersions, resourcesIn, type ResourceDefinition } from './resources';

export const KUBERNETES_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-devcluster' };

export function versionInfo(): Record<string, string> {
  return {
    ...KUBERNETES_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

function resourceEntries(definition: ResourceDefinition): Array<Record<string, unknown>> {
  const main: Record<string, unknown> = {
    name: definition.plural,
    singularName: definition.singular,
    namespaced: definition.namespaced,
    kind: definition.kind,
    verbs: definition.verbs,
  };
  if (definition.shortNames.length > 0) main.shortNames = definition.shortNames;
  if (definition.categories) main.categories = definition.categories;
  const subresources = Object.entries(definition.subresources).map(([sub, verbs]) => ({
    name: `${definition.plural}/${sub}`,
    singularName: '',
    namespaced: definition.namespaced,
    kind: sub === 'exec' ? 'PodExecOptions' : sub === 'attach' ? 'PodAttachOptions' : definition.kind,
    verbs,
  }));
  return [main, ...subresources];
}

export function resourceList(group: string, version: string): Record<string, unknown> | undefined {
  const definitions = resourcesIn(group, version);
  if (definitions.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: definitions.flatMap(resourceEntries),
  };
}

export function coreVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(name: string, versions: string[]): Record<string, unknown> {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

export function groupList(): Record<string, unknown> {
  const groups = [...groupVersions()].filter(([name]) => name !== '').map(([name, versions]) => apiGroup(name, versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function groupDocument(name: string): Record<string, unknown> | undefined {
  const versions = groupVersions().get(name);
  if (!name || !versions) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, versions) };
}
