// agentk side of the configuration stream: keeps one GetConfiguration stream open to kas and
// calls onConfig for every config kas sends; reconnects with the reference's backoff (1 s × 1.6
// up to 20 s, jitter 0.2), reset once a stream has delivered a config. The stream runs on
// agentk's connection to kas (the tunnel's HTTP/2 client, dial.ts), with its agent token.
import { Status } from '../../internal/grpc';
import type { Logger } from '../../internal/log';
import type { AgentConfig } from '../../shared/agent_config';
import { dialKas, type KasConnection, type KasDialOptions } from '../reverse_tunnel/agent/dial';
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
  connection: Pick<KasConnection, 'openCall'> | Omit<KasDialOptions, 'logger'>;
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
  let current: ClientCall<ConfigurationRequest, ConfigurationResponse> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const scheduleReconnect = (reason: string) => {
    if (stopped) return;
    const jittered = delayMs * (1 + backoff.jitter * (Math.random() * 2 - 1));
    options.logger.info('configuration stream ended; reconnecting', { reason, inMs: Math.round(jittered) });
    retryTimer = setTimeout(open, jittered);
    delayMs = Math.min(delayMs * backoff.factor, backoff.maxMs);
  };

  function openOn(kas: Pick<KasConnection, 'openCall'>): void {
    if (stopped) return;
    const stream = kas.openCall(GET_CONFIGURATION_PATH, configurationCallCodec);
    current = stream;
    stream.on('data', (response: ConfigurationResponse) => {
      delayMs = backoff.initialMs;
      deliver(response, options);
    });
    stream.on('error', () => undefined); // the status says why
    stream.once('status', (status: CallStatus) => {
      if (current === stream) current = undefined;
      scheduleReconnect(status.code === Status.OK ? 'closed by kas' : `${Status[status.code] ?? status.code}: ${status.details}`);
    });
    stream.end({ agentMeta: options.agentMeta ?? {} });
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
  try {
    options.onConfig(config, response.commitId ?? '');
  } catch (err) {
    options.logger.error('applying the agent configuration failed', { err });
  }
}
