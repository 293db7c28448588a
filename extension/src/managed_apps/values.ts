// Helm values as the user edits them: YAML text that must be a mapping at the top level (helm
// rejects anything else with a far less helpful message, after the install pod has started).
import { parseDocument } from 'yaml';
import { ManagedAppsError } from './errors';
import { releaseName } from './names';

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

/**
 * The values editor's document name. An untitled document without one is named by VS Code
 * after its first line ("controller: Untitled-1" for ingress); the app's release name says
 * whose values they are, and the .yaml suffix gives the YAML language.
 */
export function valuesDocumentName(app: string): string {
  return `${releaseName(app)}-values.yaml`;
}
