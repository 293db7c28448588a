// agentk side of the configuration stream: keeps one GetConfiguration stream open to kas and
// calls onConfig for every config kas sends; reconnects with the reference's backoff (1 s × 1.6
// up to 20 s, jitter 0.2), reset once a stream has delivered a config. The stream runs on
// agentk's connection to kas (the tunnel's HTTP/2 client, dial.ts), with its agent token.
import { Status } from '../../internal/grpc';
import type { Logger } from '../../internal/log';
import type { AgentConfig } from '../../shared/agent_config';
import { dialKas, type AgentProtocol, type KasConnection, type KasDialOptions } from '../reverse_tunnel/agent/dial';
import {
  REFERENCE_GET_CONFIGURATION_PATH,
  referenceConfigurationCallCodec,
  type RefConfigurationResponse,
} from '../reverse_tunnel/reference/wire';
import { agentConfigOfReference } from './reference_config';
import type { CallStatus, ClientCall } from '../reverse_tunnel/agent/grpc_client';
import {
  GET_CONFIGURATION_PATH,
  configurationCallCodec,
  type AgentMeta,
  type ConfigurationRequest,
  type ConfigurationResponse,
} from './rpc';

export interface ConfigurationWatchOptions {
  /**
   * agentk's connection to kas (calls carry its agent token; not closed by stop()), or where to
   * dial one of its own (closed by stop()).
   */
  connection: (Pick<KasConnection, 'openCall'> & { protocol?: AgentProtocol }) | Omit<KasDialOptions, 'logger'>;
  agentMeta?: AgentMeta;
  onConfig: (config: AgentConfig, commit: string) => void;
  logger: Logger;
  backoff?: { initialMs: number; maxMs: number; factor: number; jitter: number };
}

export interface ConfigurationWatch {
  stop(): void;
}

const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 20_000, factor: 1.6, jitter: 0.2 };

export function watchAgentConfiguration(options: ConfigurationWatchOptions): ConfigurationWatch {
  const given = 'openCall' in options.connection ? options.connection : undefined;
  const dialed = given ? undefined : dialKas({ ...(options.connection as Omit<KasDialOptions, 'logger'>), logger: options.logger });
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  let delayMs = backoff.initialMs;
  let stopped = false;
  let current: ClientCall<unknown, unknown> | undefined;
  /** The reference's agents tell kas the commit they have, so that a reconnect does not resend it. */
  let lastCommit = '';
  let retryTimer: NodeJS.Timeout | undefined;

  const scheduleReconnect = (reason: string) => {
    if (stopped) return;
    const jittered = delayMs * (1 + backoff.jitter * (Math.random() * 2 - 1));
    options.logger.info('configuration stream ended; reconnecting', { reason, inMs: Math.round(jittered) });
    retryTimer = setTimeout(open, jittered);
    delayMs = Math.min(delayMs * backoff.factor, backoff.maxMs);
  };

  function openOn(kas: Pick<KasConnection, 'openCall'> & { protocol?: AgentProtocol }): void {
    if (stopped) return;
    const stream = kas.protocol === 'reference' ? openReference(kas) : openOwn(kas);
    current = stream as ClientCall<unknown, unknown>;
    stream.on('error', () => undefined); // the status says why
    stream.once('status', (status: CallStatus) => {
      if (current === stream) current = undefined;
      scheduleReconnect(status.code === Status.OK ? 'closed by kas' : `${Status[status.code] ?? status.code}: ${status.details}`);
    });
  }

  function openOwn(kas: Pick<KasConnection, 'openCall'>): ClientCall<ConfigurationRequest, ConfigurationResponse> {
    const stream = kas.openCall(GET_CONFIGURATION_PATH, configurationCallCodec);
    stream.on('data', (response: ConfigurationResponse) => {
      delayMs = backoff.initialMs;
      deliver(response, options);
    });
    stream.end({ agentMeta: options.agentMeta ?? {} });
    return stream;
  }

  function openReference(kas: Pick<KasConnection, 'openCall'>): ClientCall<unknown, unknown> {
    const stream = kas.openCall(REFERENCE_GET_CONFIGURATION_PATH, referenceConfigurationCallCodec);
    stream.on('data', (response: RefConfigurationResponse) => {
      delayMs = backoff.initialMs;
      lastCommit = response.commit_id ?? '';
      deliverConfig(agentConfigOfReference(response.configuration), lastCommit, options);
    });
    const meta = options.agentMeta ?? {};
    stream.end({ commit_id: lastCommit, agent_meta: { version: meta.version, pod_name: meta.podName, pod_namespace: meta.podNamespace } });
    return stream as ClientCall<unknown, unknown>;
  }

  function open(): void {
    if (given) openOn(given);
    else
      dialed!.then(openOn, (err: Error) => {
        // An address dialKas refuses (or the ws bridge not starting) will not improve with retries.
        options.logger.error('cannot open the configuration stream', { err });
      });
  }

  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      current?.cancel();
      dialed?.then(
        (kas) => kas.close(),
        () => undefined,
      );
    },
  };
}

function deliver(response: ConfigurationResponse, options: ConfigurationWatchOptions): void {
  let config: AgentConfig;
  try {
    config = JSON.parse(response.configJson ?? '{}') as AgentConfig;
  } catch (err) {
    options.logger.error('kas sent a configuration that is not JSON; ignored', { err });
    return;
  }
  deliverConfig(config, response.commitId ?? '', options);
}

function deliverConfig(config: AgentConfig, commit: string, options: ConfigurationWatchOptions): void {
  try {
    options.onConfig(config, commit);
  } catch (err) {
    options.logger.error('applying the agent configuration failed', { err });
  }
}
