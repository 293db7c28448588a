// Checks an object must pass before it is stored: names in the form the API requires, the
// kind and apiVersion of the endpoint it was sent to, the fields the kind declares (structure.ts)
// and the rules of the kind (kind_rules.ts).
import { apiVersionOf, type ResourceDefinition } from './resources';
import { ApiError, badRequest, type StatusCause } from '../status';
import type { KubeObject } from '../types';
import { DNS1123_LABEL, kindCauses, LABEL_MESSAGE } from './kind_rules';
import { checkStructure } from './structure';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** Why `name` is not acceptable for this resource; undefined when it is. */
export function nameProblem(definition: ResourceDefinition, name: string): string | undefined {
  if (definition.group === 'rbac.authorization.k8s.io') {
    // RBAC names are path segments (e.g. "system:masters" style names are allowed).
    if (name === '.' || name === '..' || /[/%]/.test(name)) return `may not be '.' or '..' and may not contain '/' or '%'`;
    return undefined;
  }
  if (definition.plural === 'namespaces') {
    if (name.length > 63) return 'must be no more than 63 characters';
    return DNS1123_LABEL.test(name) ? undefined : LABEL_MESSAGE;
  }
  if (name.length > 253) return 'must be no more than 253 characters';
  return DNS1123_SUBDOMAIN.test(name) ? undefined : SUBDOMAIN_MESSAGE;
}

export function invalid(definition: ResourceDefinition, name: string, causes: StatusCause[]): ApiError {
  const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return new ApiError(422, 'Invalid', `${definition.kind} "${name}" is invalid: ${summary}`, {
    name,
    group: definition.group,
    kind: definition.kind,
    causes,
  });
}

/** The object must be of this endpoint's kind and apiVersion (both may be left out). */
export function checkKindAndVersion(definition: ResourceDefinition, object: KubeObject): void {
  const apiVersion = apiVersionOf(definition);
  if (object.kind && object.kind !== definition.kind) {
    throw badRequest(`the kind "${object.kind}" in the body does not match the kind "${definition.kind}" of the endpoint`);
  }
  if (object.apiVersion && object.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersion})`);
  }
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Labels and annotations must be string maps (selectors read them), labels in label syntax. */
function metadataCauses(meta: KubeObject['metadata']): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const key of ['name', 'generateName', 'namespace', 'resourceVersion'] as const) {
    if (meta[key] !== undefined && typeof meta[key] !== 'string')
      causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: must be a string', field: `metadata.${key}` });
  }
  for (const key of ['labels', 'annotations'] as const) {
    if (meta[key] !== undefined && !isStringMap(meta[key]))
      causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: must be a map of strings', field: `metadata.${key}` });
  }
  if (isStringMap(meta.labels)) {
    for (const [key, value] of Object.entries(meta.labels)) {
      if (value.length > 63 || !LABEL_VALUE.test(value))
        causes.push({
          reason: 'FieldValueInvalid',
          message: `Invalid value: ${JSON.stringify(value)}: a valid label must be 63 characters or less, alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric character`,
          field: `metadata.labels`,
        });
      if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key))
        causes.push({
          reason: 'FieldValueInvalid',
          message: `Invalid value: ${JSON.stringify(key)}: not a valid label key`,
          field: 'metadata.labels',
        });
    }
  }
  return causes;
}

/** Everything that makes the object invalid for storage; throws 422 Invalid with causes. */
export function validateObject(definition: ResourceDefinition, object: KubeObject): void {
  const metaCauses = metadataCauses(object.metadata);
  if (metaCauses.length > 0) throw invalid(definition, String(object.metadata.name ?? ''), metaCauses);
  const name = object.metadata.name ?? object.metadata.generateName ?? '';
  const causes: StatusCause[] = [];
  if (object.metadata.name !== undefined) {
    const problem = nameProblem(definition, object.metadata.name);
    if (problem)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(object.metadata.name)}: ${problem}`,
        field: 'metadata.name',
      });
  } else if (!object.metadata.generateName) {
    causes.push({ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' });
  }
  // A custom kind may share a built-in kind's name; the built-in rules are not its rules.
  if (!definition.storageVersion) causes.push(...kindCauses(definition.kind, object));
  if (causes.length > 0) throw invalid(definition, name, causes);
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** The request's fieldValidation; a real server answers 400 for anything but these three. */
export function fieldValidationOf(value: string | null): FieldValidation {
  if (value === null || value === '') return 'Warn';
  if (value === 'Strict' || value === 'Warn' || value === 'Ignore') return value;
  throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${value}"`);
}

/**
 * Decodes the object as the API server does: wrong types are 400 always, unknown fields 400
 * under Strict, else dropped; returns the warnings (for the Warning header) under Warn.
 */
export function decodeStrictly(definition: ResourceDefinition, object: KubeObject, validation: FieldValidation): string[] {
  if (!definition.model) return [];
  const report = checkStructure(definition.model, object, validation !== 'Strict');
  const cannotHandle = `${definition.kind} in version "${definition.version}" cannot be handled as a ${definition.kind}`;
  if (report.typeErrors.length > 0) throw badRequest(`${cannotHandle}: ${report.typeErrors[0]}`);
  const unknown = report.unknownFields.map((field) => `unknown field "${field}"`);
  if (validation === 'Strict' && unknown.length > 0) throw badRequest(`${cannotHandle}: strict decoding error: ${unknown.join(', ')}`);
  return validation === 'Warn' ? unknown : [];
}
