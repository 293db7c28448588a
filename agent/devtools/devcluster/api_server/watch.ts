// watch=true: a chunked stream of JSON watch events, one per line, from the store. The watch
// is removed from the store when the client leaves, the timeout passes or the server stops.
import type { RequestContext } from './context';
import { withTypeMeta } from './handlers';
import { resourceTypeOf } from '../schema/resources';
import { parseFieldSelector, parseLabelSelector } from '../store/selectors';
import { badRequest, failureStatus, toStatus } from '../status';
import { includeObjectOf, toTable, wantsTable } from './table';
import { StoreError, type WatchEvent } from '../types';

/** A client that reads slower than this many buffered bytes loses its watch instead of our memory. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Longest a watch stays open without timeoutSeconds (kube-apiserver picks 30-60 minutes). */
const DEFAULT_TIMEOUT_SECONDS = 30 * 60;

function timeoutOf(ctx: RequestContext): number {
  const requested = Number(ctx.query.get('timeoutSeconds') ?? '');
  return Number.isFinite(requested) && requested > 0 ? requested : DEFAULT_TIMEOUT_SECONDS;
}

function fieldSelectorOf(ctx: RequestContext): string | undefined {
  const selector = ctx.query.get('fieldSelector') ?? undefined;
  if (ctx.route.name === undefined) return selector;
  const byName = `metadata.name=${ctx.route.name}`;
  return selector ? `${selector},${byName}` : byName;
}

/** Selectors and resourceVersion are checked before the stream opens, so they fail as HTTP 400. */
function checkWatchQuery(ctx: RequestContext, fieldSelector: string | undefined): void {
  parseLabelSelector(ctx.query.get('labelSelector') ?? undefined);
  parseFieldSelector(fieldSelector);
  const resourceVersion = ctx.query.get('resourceVersion');
  if (resourceVersion && !/^\d+$/.test(resourceVersion))
    throw badRequest(`invalid resourceVersion "${resourceVersion}": must be a non-negative integer`);
}

export function handleWatch(ctx: RequestContext): void {
  const { res, route } = ctx;
  const fieldSelector = fieldSelectorOf(ctx);
  checkWatchQuery(ctx, fieldSelector);
  const asTable = wantsTable(ctx.req.headers.accept);
  const includeObject = includeObjectOf(ctx.query.get('includeObject'));
  let sentColumns = false;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();

  const encode = (event: WatchEvent): unknown => {
    const object = withTypeMeta(route.definition, event.object);
    if (!asTable) return { type: event.type, object };
    const table = toTable(route.definition.kind, [object], { includeObject, withColumns: !sentColumns });
    sentColumns = true;
    return { type: event.type, object: table };
  };
  let stopped = false;
  let unsubscribe = (): void => undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unsubscribe();
    clearTimeout(timer);
    ctx.parts.openStreams.delete(stop);
    res.end();
  };
  const write = (payload: unknown) => {
    if (stopped) return;
    res.write(JSON.stringify(payload) + '\n');
    if (res.writableLength > MAX_BUFFERED_BYTES) stop();
  };
  const timer = setTimeout(stop, timeoutOf(ctx) * 1000);
  ctx.parts.openStreams.add(stop);
  res.on('close', stop);
  try {
    const options = { namespace: route.namespace, labelSelector: ctx.query.get('labelSelector') ?? undefined, fieldSelector };
    unsubscribe = ctx.parts.store.watch(
      resourceTypeOf(route.definition),
      { ...options, fromResourceVersion: ctx.query.get('resourceVersion') ?? undefined },
      (event) => write(encode(event)),
    );
  } catch (err) {
    // As kube-apiserver does: the stream opens, then an ERROR event carries the Status (410 Expired).
    const status = err instanceof StoreError ? toStatus(err) : failureStatus(500, 'InternalError', 'the watch could not be started');
    write({ type: 'ERROR', object: status });
    stop();
  }
}
