// The catalog of installable apps: a data file (catalog.json), validated when loaded so a broken
// entry is reported with its path instead of failing later inside an install pod.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import catalogData from './catalog.json';
import { ManagedAppsError } from './errors';
import { parseHelmValues } from './values';

export interface CatalogApp {
  /** The app's key, e.g. `cert_manager`; also the helm release name. */
  name: string;
  title: string;
  description: string;
  /** `<repository name>/<chart>` as helm upgrade takes it. */
  chart: string;
  repository: { name: string; url: string };
  version: string;
  /** Default values as YAML text (what the user starts editing from). */
  values: string;
}

export type Catalog = ReadonlyMap<string, CatalogApp>;

const APP_NAME = '^[a-z][a-z0-9_]{0,40}$';

const CATALOG_SCHEMA = {
  type: 'object',
  required: ['apps'],
  additionalProperties: false,
  properties: {
    apps: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: APP_NAME },
      additionalProperties: {
        type: 'object',
        required: ['title', 'description', 'chart', 'repository', 'version', 'values'],
        additionalProperties: false,
        properties: {
          title: { type: 'string', minLength: 1 },
          description: { type: 'string', minLength: 1 },
          chart: { type: 'string', pattern: '^[a-z0-9-]+/[a-z0-9-]+$' },
          repository: {
            type: 'object',
            required: ['name', 'url'],
            additionalProperties: false,
            properties: { name: { type: 'string', pattern: '^[a-z0-9-]+$' }, url: { type: 'string', pattern: '^https://[^\\s\'"]+$' } },
          },
          version: { type: 'string', pattern: '^v?[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?$' },
          values: { type: 'string' },
        },
      },
    },
  },
} as const;

let compiled: ValidateFunction | undefined;

/** Compiled on first use: schema compilation would otherwise cost every activation. */
function validateShape(data: unknown): { valid: boolean; errors: ErrorObject[] } {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(CATALOG_SCHEMA);
  const valid = compiled(data);
  return { valid, errors: compiled.errors ?? [] };
}

/** Validates catalog data (the parsed JSON); throws CATALOG_INVALID listing every problem. */
export function parseCatalog(data: unknown): Catalog {
  const shape = validateShape(data);
  if (!shape.valid) throw new ManagedAppsError('CATALOG_INVALID', `the app catalog is invalid: ${describeErrors(shape.errors)}`);
  const apps = (data as { apps: Record<string, Omit<CatalogApp, 'name'>> }).apps;
  const catalog = new Map<string, CatalogApp>();
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(apps)) {
    if (!entry.chart.startsWith(`${entry.repository.name}/`))
      problems.push(`/apps/${name}/chart must start with its repository name "${entry.repository.name}/"`);
    try {
      parseHelmValues(entry.values, `/apps/${name}/values`);
    } catch (error) {
      problems.push((error as Error).message.replace(/^VALUES_INVALID: /, ''));
    }
    catalog.set(name, { name, ...entry });
  }
  if (problems.length > 0) throw new ManagedAppsError('CATALOG_INVALID', `the app catalog is invalid: ${problems.join('; ')}`);
  return catalog;
}

function describeErrors(errors: ErrorObject[]): string {
  return errors.map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}${detail(error)}`).join('; ');
}

function detail(error: ErrorObject): string {
  const params = error.params as { additionalProperty?: string; propertyName?: string };
  if (params.additionalProperty) return ` ("${params.additionalProperty}")`;
  if (params.propertyName) return ` ("${params.propertyName}")`;
  return '';
}

let bundled: Catalog | undefined;

/** The catalog shipped with the extension, validated once. */
export function bundledCatalog(): Catalog {
  bundled ??= parseCatalog(catalogData);
  return bundled;
}

export function catalogApp(catalog: Catalog, name: string): CatalogApp {
  const app = catalog.get(name);
  if (!app) throw new ManagedAppsError('UNKNOWN_APP', `"${name}" is not in the app catalog (known: ${[...catalog.keys()].join(', ')})`);
  return app;
}
