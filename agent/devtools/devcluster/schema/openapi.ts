// Just enough OpenAPI for kubectl apply and validation:
// - /openapi/v3 (index and one document per group/version) whose PATCH operations carry the
//   GVK and declare the `fieldValidation` query parameter, so kubectl 1.2x validates on the
//   server instead of needing full schemas. The PATCH operations do not offer strategic merge
//   patch in their request body, so kubectl computes those patches from its built-in types.
// - /openapi/v2, an empty Swagger document (protobuf or JSON), for older kubectl (1.20) whose
//   client-side validation skips kinds without a schema.
import { createHash } from 'node:crypto';
import { KUBERNETES_VERSION } from './discovery';
import { groupVersions, resourcesIn, type ResourceDefinition } from './resources';

/** The cluster's live resource table (built-in rows and what its CRDs serve). */
type Table = readonly ResourceDefinition[];

const FIELD_VALIDATION = { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } };
const DRY_RUN = { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } };
const FIELD_MANAGER = { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } };
const PATCH_CONTENT = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];

function pathsFor(definition: ResourceDefinition): Record<string, unknown> {
  const prefix = definition.group ? `/apis/${definition.group}/${definition.version}` : `/api/${definition.version}`;
  const scope = definition.namespaced ? '/namespaces/{namespace}' : '';
  const gvk = { group: definition.group, version: definition.version, kind: definition.kind };
  const operation = (action: string, parameters: unknown[], extra: Record<string, unknown> = {}) => ({
    operationId: `${action}${definition.kind}`,
    parameters,
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    ...extra,
  });
  const patchBody = { requestBody: { content: Object.fromEntries(PATCH_CONTENT.map((type) => [type, { schema: { type: 'object' } }])) } };
  return {
    [`${prefix}${scope}/${definition.plural}`]: {
      get: operation('list', []),
      post: operation('post', [FIELD_VALIDATION, DRY_RUN, FIELD_MANAGER]),
    },
    [`${prefix}${scope}/${definition.plural}/{name}`]: {
      get: operation('get', []),
      put: operation('put', [FIELD_VALIDATION, DRY_RUN, FIELD_MANAGER]),
      patch: operation('patch', [FIELD_VALIDATION, DRY_RUN, FIELD_MANAGER], patchBody),
      delete: operation('delete', [DRY_RUN]),
    },
  };
}

function groupVersionKey(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** The OpenAPI v3 document of one group/version, or undefined for an unknown one. */
export function openApiV3Document(group: string, version: string, table: Table): Record<string, unknown> | undefined {
  const definitions = resourcesIn(group, version, table);
  if (definitions.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: KUBERNETES_VERSION.gitVersion },
    paths: Object.assign({}, ...definitions.map(pathsFor)),
    components: { schemas: {} },
  };
}

function documentHash(group: string, version: string, table: Table): string {
  return createHash('sha256')
    .update(JSON.stringify(openApiV3Document(group, version, table)))
    .digest('hex')
    .slice(0, 32)
    .toUpperCase();
}

export function openApiV3Index(table: Table): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [group, versions] of groupVersions(table)) {
    for (const version of versions) {
      const key = groupVersionKey(group, version);
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${documentHash(group, version, table)}` };
    }
  }
  return { paths };
}

/** Parses `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>` into its group/version. */
export function parseOpenApiV3Path(pathname: string): { group: string; version: string } | undefined {
  const core = /^\/openapi\/v3\/api\/([^/]+)$/.exec(pathname);
  if (core) return { group: '', version: core[1]! };
  const named = /^\/openapi\/v3\/apis\/([^/]+)\/([^/]+)$/.exec(pathname);
  return named ? { group: named[1]!, version: named[2]! } : undefined;
}

export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

function protobufString(field: number, value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

/** An empty OpenAPI v2 document in gnostic's protobuf form (swagger = 1, info = 2). */
export function openApiV2Protobuf(): Buffer {
  const info = Buffer.concat([protobufString(1, 'Kubernetes'), protobufString(2, KUBERNETES_VERSION.gitVersion)]);
  return Buffer.concat([protobufString(1, '2.0'), Buffer.from([(2 << 3) | 2, info.length]), info]);
}

export function openApiV2Json(): Record<string, unknown> {
  return { swagger: '2.0', info: { title: 'Kubernetes', version: KUBERNETES_VERSION.gitVersion }, paths: {}, definitions: {} };
}
