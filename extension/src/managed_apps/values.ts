// Helm values as the user edits them: YAML text that must be a mapping at the top level (helm
// rejects anything else with a far less helpful message, after the install pod has started).
import { parseDocument } from 'yaml';
import { ManagedAppsError } from './errors';

export type HelmValues = Record<string, unknown>;

/** Parses values text; throws VALUES_INVALID naming the line of a syntax error. */
export function parseHelmValues(text: string, what = 'values'): HelmValues {
  const document = parseDocument(text);
  const firstError = document.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line;
    const where = line === undefined ? '' : ` (line ${line})`;
    throw new ManagedAppsError('VALUES_INVALID', `${what} are not valid YAML${where}: ${firstError.code.toLowerCase().replace(/_/g, ' ')}`);
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ManagedAppsError(
      'VALUES_INVALID',
      `${what} must be a YAML mapping (key: value lines), not ${Array.isArray(value) ? 'a list' : `a ${typeof value}`}`,
    );
  }
  return value as HelmValues;
}
