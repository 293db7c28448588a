// The Kubernetes API proxy's request and response heads, between our wire (kubernetes_api/rpc.ts:
// MakeRequestHeader in request_info, the tunnel's header frame) and the reference's
// (grpctool.HttpRequest / HttpResponse headers as gRPC messages, the caller's impersonation as
// HeaderExtra in `extra`). Both ends of a reference tunnel use these: kas for a reference agent,
// our agentk when it speaks the reference's protocol.
import { impersonationOf, parseAccessAs } from '../../kubernetes_api/access_as';
import { decodeMakeRequestHeader, type MakeRequestHeader } from '../../kubernetes_api/rpc';
import type { HeaderFrame, ValuesMap } from '../protocol';
import { HEADER_EXTRA_TYPE_URL, headerExtraCodec, type ImpersonationConfig, type RefHttpRequest, type RefHttpResponse } from './wire';

/** The reference's request head for our MakeRequestHeader bytes, and whether it asks for an upgrade. */
export function referenceRequestHead(headerBytes: Uint8Array | null | undefined): { head: RefHttpRequest; upgrade: boolean } {
  const { http, caller } = decodeMakeRequestHeader(headerBytes);
  const rawPath = http?.path ?? '/';
  const queryAt = rawPath.indexOf('?');
  const pathPart = queryAt >= 0 ? rawPath.slice(0, queryAt) : rawPath;
  const query: ValuesMap = {};
  if (queryAt >= 0) {
    for (const [name, value] of new URLSearchParams(rawPath.slice(queryAt + 1))) (query[name] ??= { value: [] }).value!.push(value);
  }
  const upgrade = http?.upgrade === true;
  // Our kas forwards Upgrade without the hop-by-hop Connection; the reference's puts
  // "Connection: upgrade" back on an upgrade, and its agent forwards the map as it is.
  const headers = upgrade ? { ...http?.headers, connection: { value: ['upgrade'] } } : (http?.headers ?? {});
  const impersonation = impersonationOf(
    parseAccessAs(caller?.accessAsJson || undefined),
    caller?.username ? { username: caller.username, groups: caller.groups ?? [] } : undefined,
  );
  const impConfig: ImpersonationConfig = impersonation ?? {};
  return {
    head: {
      header: {
        // The reference sends the decoded path (Go's URL.Path) and the query as a map.
        request: { method: http?.method || 'GET', header: headers, urlPath: decodedPath(pathPart), query },
        extra: { typeUrl: HEADER_EXTRA_TYPE_URL, value: headerExtraCodec.serialize({ impConfig }) },
        contentLength: contentLength(headers, http?.noBody === true),
      },
    },
    upgrade,
  };
}

/** Our MakeRequestHeader for a reference request head (what our agentk's forwarder reads). */
export function makeRequestHeaderOf(head: NonNullable<RefHttpRequest['header']>): MakeRequestHeader {
  const request = head.request;
  const headers = request?.header ?? {};
  const query = new URLSearchParams();
  for (const [name, values] of Object.entries(request?.query ?? {})) for (const value of values?.value ?? []) query.append(name, value);
  const search = query.toString();
  const extra = head.extra;
  const imp =
    extra?.typeUrl === HEADER_EXTRA_TYPE_URL && extra.value?.length
      ? headerExtraCodec.deserialize(Buffer.from(extra.value)).impConfig
      : null;
  const accessAs = imp?.username
    ? { impersonate: { username: imp.username, groups: [...(imp.groups ?? [])], uid: imp.uid || undefined, extra: imp.extra ?? [] } }
    : { agent: {} };
  const length = head.contentLength;
  return {
    http: {
      method: request?.method || 'GET',
      path: encodeURI(request?.urlPath || '/') + (search ? `?${search}` : ''),
      headers,
      upgrade: Object.keys(headers).some((name) => name.toLowerCase() === 'upgrade'),
      noBody: length !== null && length !== undefined && Number(length) === 0,
    },
    caller: { kind: 'pat', accessAsJson: JSON.stringify(accessAs) },
  };
}

/** The reference's response head for our header frame (Go's Status: "200 OK"). */
export function referenceResponseHead(header: HeaderFrame): RefHttpResponse {
  const status = header.status ?? 0;
  return {
    header: { response: { statusCode: status, status: `${status} ${header.reason ?? ''}`.trim(), header: header.httpHeaders ?? {} } },
  };
}

/** Our header frame for a reference response head; `meta` is the gRPC header the agent sent before it. */
export function headerFrameOf(head: NonNullable<RefHttpResponse['header']>, meta: ValuesMap | undefined): HeaderFrame {
  const response = head.response;
  const status = response?.statusCode ?? 0;
  return {
    meta,
    status,
    reason: (response?.status ?? '').replace(/^\d{3}\s*/u, ''),
    httpHeaders: response?.header ?? {},
  };
}

function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Go's ContentLength: the header's value, 0 for a request kas saw without a body, else -1 (unknown). */
function contentLength(headers: ValuesMap, noBody: boolean): number {
  if (noBody) return 0;
  for (const [name, values] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'content-length') continue;
    const length = Number(values?.value?.[0]);
    if (Number.isSafeInteger(length) && length >= 0) return length;
  }
  return -1;
}
