// Which container's logs a palette command shows: namespace → pod → container, each step a pick
// fed live from the agent's watch cache (the same feeds the tree holds; a step opened before its
// feed has listed shows as loading and fills in when the list lands). No request on the UI path.
// The picking itself sits behind LivePick, so the flow runs in plain mocha and VS Code maps it
// onto a QuickPick.
import type { LogTarget } from '../../../webviews/logview/messages';
import { BUILTIN_KINDS } from '../cache/kinds';
import type { ResourceCache } from '../cache/resource_cache';
import type { WatchFeed } from '../cache/watch_feed';
import { userMessage } from '../kas_client/errors';
import { podName, type Pod } from '../kas_client/kube_client';
import { containerNames, podStatusText } from '../trees/format';
import { containerRestartCount } from './log_session';

export interface Choice<T> {
  label: string;
  description?: string;
  value: T;
}

export interface ChoiceList<T> {
  choices: Choice<T>[];
  /** The feed has not listed yet (choices may be empty for that reason). */
  loading: boolean;
  /** Why the feed fails, as a user message (code first). */
  problem?: string;
}

/**
 * Subscribes, shows `read()`'s choices and re-reads them after each change signal; resolves with
 * the pick (undefined: dismissed) and disposes the subscription.
 */
export type LivePick = <T>(
  title: string,
  read: () => ChoiceList<T>,
  subscribe: (onChange: () => void) => { dispose(): void },
) => Promise<T | undefined>;

/**
 * Namespace, pod and container of one agent, for `what` ("Previous Logs"). Pods that restarted
 * say how often (only they have a previous instance); a pod with one container skips that step.
 */
export async function pickLogTarget(cache: ResourceCache, agentName: string, what: string, pick: LivePick): Promise<LogTarget | undefined> {
  const namespace = await pick(
    `${what}: namespace (agent ${agentName})`,
    ...live(cache, BUILTIN_KINDS.Namespace, undefined, (feed) =>
      feed.snapshot().map((ns) => ({ label: ns.metadata?.name ?? '', value: ns.metadata?.name ?? '' })),
    ),
  );
  if (namespace === undefined) return undefined;
  const pod = await pick(
    `${what}: pod in ${namespace}`,
    ...live(cache, BUILTIN_KINDS.Pod, namespace, (feed) =>
      (feed as unknown as WatchFeed<Pod>).snapshot().map((p) => {
        const restarts = containerNames(p).reduce((sum, c) => sum + containerRestartCount(p, c), 0);
        return { label: podName(p), description: `${podStatusText(p)} · ${restarts} restart${restarts === 1 ? '' : 's'}`, value: p };
      }),
    ),
  );
  if (pod === undefined) return undefined;
  const names = containerNames(pod);
  const container =
    names.length === 1
      ? names[0]
      : await pick(
          `${what}: container of ${podName(pod)}`,
          ...fixed(names.map((c) => ({ label: c, description: restartsText(pod, c), value: c }))),
        );
  return container === undefined ? undefined : { namespace, pod: podName(pod), container };
}

function restartsText(pod: Pod, container: string): string {
  const restarts = containerRestartCount(pod, container);
  return `${restarts} restart${restarts === 1 ? '' : 's'}`;
}

/** A step's reader and subscription over one feed of the cache, held only while the step is shown. */
function live<T>(
  cache: ResourceCache,
  info: (typeof BUILTIN_KINDS)[keyof typeof BUILTIN_KINDS],
  namespace: string | undefined,
  choices: (feed: WatchFeed) => Choice<T>[],
): [() => ChoiceList<T>, (onChange: () => void) => { dispose(): void }] {
  let feed: WatchFeed | undefined;
  return [
    () => {
      if (!feed) return { choices: [], loading: true };
      return {
        choices: choices(feed),
        loading: feed.state === 'loading',
        problem: feed.state === 'error' ? userMessage(feed.error) : undefined,
      };
    },
    (onChange) => {
      const subscription = cache.subscribe(info, namespace, onChange);
      feed = subscription.feed;
      return subscription;
    },
  ];
}

function fixed<T>(choices: Choice<T>[]): [() => ChoiceList<T>, (onChange: () => void) => { dispose(): void }] {
  return [() => ({ choices, loading: false }), () => ({ dispose: () => undefined })];
}
