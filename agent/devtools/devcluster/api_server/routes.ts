// Turns a request path and method into what it asks for: which resource, where, which verb.
import { findResource, type ResourceDefinition } from '../schema/resources';
import { ApiError } from '../status';

export interface ResourceRoute {
  definition: ResourceDefinition;
  namespace?: string;
  name?: string;
  subresource?: string;
}

function splitPath(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
}

/** undefined when the path is not a resource path at all (/api/v1/... or /apis/g/v/...). */
/** `table`: the cluster's live resource table (built-in rows and what its CRDs serve). */
export function parseResourcePath(pathname: string, table: readonly ResourceDefinition[]): ResourceRoute | undefined {
  let segments: string[];
  try {
    segments = splitPath(pathname);
  } catch {
    throw new ApiError(400, 'BadRequest', 'the request path is not valid percent-encoding');
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) [group, version, rest] = ['', segments[1]!, segments.slice(2)];
  else if (segments[0] === 'apis' && segments.length >= 4) [group, version, rest] = [segments[1]!, segments[2]!, segments.slice(3)];
  else return undefined;
  return routeWithin(group, version, rest, pathname, table);
}

function notFoundPath(pathname: string): ApiError {
  return new ApiError(404, 'NotFound', `the server could not find the requested resource (${pathname})`);
}

function routeWithin(
  group: string,
  version: string,
  rest: string[],
  pathname: string,
  table: readonly ResourceDefinition[],
): ResourceRoute {
  // /namespaces/<ns>/<resource>[/<name>[/<sub>]] when <resource> is namespaced in this group.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const namespaced = findResource(group, version, rest[2]!, table);
    if (namespaced?.namespaced && rest.length <= 5) {
      return { definition: namespaced, namespace: rest[1], name: rest[3], subresource: rest[4] };
    }
  }
  const definition = findResource(group, version, rest[0]!, table);
  if (!definition || rest.length > 3) throw notFoundPath(pathname);
  return { definition, name: rest[1], subresource: rest[2] };
}

/** The API verb of a request, in RBAC's terms. */
export function verbOf(method: string, route: ResourceRoute, query: URLSearchParams): string {
  const hasName = route.name !== undefined;
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (isWatch(query)) return 'watch';
      return hasName ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return hasName ? 'delete' : 'deletecollection';
    default:
      throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
  }
}

export function isWatch(query: URLSearchParams): boolean {
  const watch = query.get('watch');
  return watch === 'true' || watch === '1';
}
