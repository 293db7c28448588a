// The Kubernetes API as reached through kas's k8s proxy, with the `pat:<agent-id>:<token>`
// credential. Only the calls the extension makes: list, watch (JSON lines), logs (a byte
// stream), delete and create.
import type { IncomingMessage } from 'node:http';
import { KasClientError } from './errors';
import { HttpTarget, openResponse, requestJson } from './http';
import type { List, Namespace, Pod, WatchEvent } from './kubeTypes';

export interface LogOptions {
  container?: string;
  follow?: boolean;
  tailLines?: number;
  timestamps?: boolean;
  signal?: AbortSignal;
}

export function proxyAuthorization(agentId: string, token: string): string {
  return `Bearer pat:${agentId}:${token}`;
}

const enc = encodeURIComponent;

export class KubeClient {
  constructor(private readonly target: HttpTarget) {}

  listNamespaces(signal?: AbortSignal): Promise<List<Namespace>> {
    return requestJson<List<Namespace>>(this.target, 'api/v1/namespaces', { signal });
  }

  listPods(namespace: string, labelSelector?: string, signal?: AbortSignal): Promise<List<Pod>> {
    const query = labelSelector ? `?labelSelector=${enc(labelSelector)}` : '';
    return requestJson<List<Pod>>(this.target, `api/v1/namespaces/${enc(namespace)}/pods${query}`, { signal });
  }

  readPod(namespace: string, name: string, signal?: AbortSignal): Promise<Pod> {
    return requestJson<Pod>(this.target, `api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`, { signal });
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    await requestJson<unknown>(this.target, `api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`, { method: 'DELETE' });
  }

  async create(path: string, object: unknown): Promise<void> {
    await requestJson<unknown>(this.target, path, { method: 'POST', body: object });
  }

  /**
   * Watches pods from `resourceVersion`; calls `onEvent` per event until the server ends the
   * stream or `signal` aborts. Resolves when the stream ends; rejects on errors (GONE on 410,
   * also when it arrives as an ERROR event inside the stream).
   */
  async watchPods(
    namespace: string,
    options: { resourceVersion: string; labelSelector?: string },
    onEvent: (event: WatchEvent<Pod>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const selector = options.labelSelector ? `&labelSelector=${enc(options.labelSelector)}` : '';
    const query = `?watch=true&allowWatchBookmarks=true&resourceVersion=${enc(options.resourceVersion)}${selector}`;
    const response = await openResponse(this.target, `api/v1/namespaces/${enc(namespace)}/pods${query}`, { signal });
    await readJsonLines(response, (line) => {
      const event = parseWatchEvent(line);
      if (event.type === 'ERROR') throw new KasClientError(statusCodeOf(event.object) === 410 ? 'GONE' : 'SERVER_ERROR');
      onEvent(event);
    });
  }

  /** Opens the log stream of a container; the caller reads and destroys it. */
  streamLogs(namespace: string, pod: string, options: LogOptions): Promise<IncomingMessage> {
    const params = new URLSearchParams();
    if (options.container) params.set('container', options.container);
    if (options.follow) params.set('follow', 'true');
    if (options.tailLines !== undefined) params.set('tailLines', String(options.tailLines));
    if (options.timestamps) params.set('timestamps', 'true');
    const path = `api/v1/namespaces/${enc(namespace)}/pods/${enc(pod)}/log?${params.toString()}`;
    return openResponse(this.target, path, { signal: options.signal });
  }
}

function parseWatchEvent(line: string): WatchEvent<Pod> {
  try {
    const event = JSON.parse(line) as WatchEvent<Pod>;
    if (typeof event?.type === 'string' && event.object) return event;
  } catch {
    // fall through: reported below as a typed error
  }
  throw new KasClientError('BAD_RESPONSE');
}

function statusCodeOf(object: unknown): number | undefined {
  return (object as { code?: number }).code;
}

/** Splits a byte stream into lines; the last partial line is delivered when the stream ends. */
export async function readJsonLines(stream: AsyncIterable<Buffer | string>, onLine: (line: string) => void): Promise<void> {
  let pending = '';
  try {
    for await (const chunk of stream) {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line) onLine(line);
      }
    }
  } catch (error) {
    if (error instanceof KasClientError) throw error;
    throw new KasClientError((error as { name?: string }).name === 'AbortError' ? 'CANCELLED' : 'UNREACHABLE');
  }
  if (pending.trim()) onLine(pending.trim());
}
