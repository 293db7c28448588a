// Discovery documents (/version, /api, /api/v1, /apis, /apis/<group>[/<version>]), all built
// from the resource table. Served in the legacy (unaggregated) form, which kubectl and
// client-go fall back to when the aggregated form is not offered.
import { groupVersions, resourcesIn, type ResourceDefinition } from './resources';

/** The cluster's live resource table (built-in rows and what its CRDs serve). */
type Table = readonly ResourceDefinition[];

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

const SUBRESOURCE_KINDS: Record<string, string> = {
  exec: 'PodExecOptions',
  attach: 'PodAttachOptions',
  portforward: 'PodPortForwardOptions',
  scale: 'Scale',
};

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
    kind: SUBRESOURCE_KINDS[sub] ?? definition.kind,
    // The scale subresource answers autoscaling/v1 Scale whatever the workload's group.
    ...(sub === 'scale' ? { group: 'autoscaling', version: 'v1' } : {}),
    verbs,
  }));
  return [main, ...subresources];
}

export function resourceList(group: string, version: string, table: Table): Record<string, unknown> | undefined {
  const definitions = resourcesIn(group, version, table);
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

export function groupList(table: Table): Record<string, unknown> {
  const groups = [...groupVersions(table)].filter(([name]) => name !== '').map(([name, versions]) => apiGroup(name, versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function groupDocument(name: string, table: Table): Record<string, unknown> | undefined {
  const versions = groupVersions(table).get(name);
  if (!name || !versions) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, versions) };
}

// ---- aggregated discovery (apidiscovery.k8s.io/v2): all resources in one answer ------------

export const AGGREGATED_DISCOVERY_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Whether an Accept header offers the v2 aggregated discovery form (kubectl 1.30+ does). */
export function acceptsAggregatedDiscovery(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((mediaType) => {
    const params = new Set(mediaType.split(';').map((p) => p.trim()));
    return params.has('g=apidiscovery.k8s.io') && params.has('v=v2') && params.has('as=APIGroupDiscoveryList');
  });
}

function subresourceDiscovery(definition: ResourceDefinition): Array<Record<string, unknown>> {
  return Object.entries(definition.subresources).map(([subresource, verbs]) => {
    const kind = SUBRESOURCE_KINDS[subresource] ?? definition.kind;
    const responseKind =
      subresource === 'scale'
        ? { group: 'autoscaling', version: 'v1', kind }
        : { group: definition.group, version: definition.version, kind };
    return { subresource, responseKind, verbs };
  });
}

function resourceDiscovery(definition: ResourceDefinition): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    resource: definition.plural,
    responseKind: { group: definition.group, version: definition.version, kind: definition.kind },
    scope: definition.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: definition.singular,
    verbs: definition.verbs,
  };
  if (definition.shortNames.length > 0) entry.shortNames = definition.shortNames;
  if (definition.categories) entry.categories = definition.categories;
  const subresources = subresourceDiscovery(definition);
  if (subresources.length > 0) entry.subresources = subresources;
  return entry;
}

function groupDiscovery(name: string, versions: string[], table: Table): Record<string, unknown> {
  return {
    metadata: name ? { name } : {},
    versions: versions.map((version) => ({
      version,
      resources: resourcesIn(name, version, table).map(resourceDiscovery),
      freshness: 'Current',
    })),
  };
}

/** The aggregated document of /api (core group only) or /apis (every named group). */
export function aggregatedDiscovery(core: boolean, table: Table): Record<string, unknown> {
  const groups = [...groupVersions(table)].filter(([name]) => (name === '') === core);
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map(([name, versions]) => groupDiscovery(name, versions, table)),
  };
}
