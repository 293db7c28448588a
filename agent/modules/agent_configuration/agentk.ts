// agentk side of the configuration stream: keeps one GetConfiguration stream open to kas and
// calls onConfig for every config kas sends; reconnects with the reference's backoff (1 s × 1.6
// up to 20 s, jitter 0.2), reset once a stream has delivered a config.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../internal/log';
import type { AgentConfig } from './parse_config';
import {
  GET_CONFIGURATION_PATH,
  deserializeConfigurationResponse,
  serializeConfigurationRequest,
  type AgentMeta,
  type ConfigurationRequest,
  type ConfigurationResponse,
} from './rpc';

export interface ConfigurationWatchOptions {
  /** A grpc client connected to kas's agent listener (its channel is reused; not closed by stop()). */
  client?: grpc.Client;
  /** Or where to dial: a grpc target such as 127.0.0.1:8150, with its credentials. */
  target?: { address: string; credentials: grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions };
  token: string;
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
  const ownClient = options.client ? undefined : createClient(options);
  const client = options.client ?? ownClient!;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  let delayMs = backoff.initialMs;
  let stopped = false;
  let current: grpc.ClientReadableStream<ConfigurationResponse> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const scheduleReconnect = (reason: string) => {
    if (stopped) return;
    const jittered = delayMs * (1 + backoff.jitter * (Math.random() * 2 - 1));
    options.logger.info('configuration stream ended; reconnecting', { reason, inMs: Math.round(jittered) });
    retryTimer = setTimeout(open, jittered);
    delayMs = Math.min(delayMs * backoff.factor, backoff.maxMs);
  };

  function open(): void {
    if (stopped) return;
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${options.token}`);
    const request: ConfigurationRequest = { agentMeta: options.agentMeta ?? {} };
    const stream = client.makeServerStreamRequest(
      GET_CONFIGURATION_PATH,
      serializeConfigurationRequest,
      deserializeConfigurationResponse,
      request,
      metadata,
      {},
    );
    current = stream;
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      if (current === stream) current = undefined;
      scheduleReconnect(reason);
    };
    stream.on('data', (response: ConfigurationResponse) => {
      delayMs = backoff.initialMs;
      deliver(response, options);
    });
    stream.on('error', (err: grpc.ServiceError) => end(`${grpc.status[err.code] ?? err.code}: ${err.details}`));
    stream.on('end', () => end('closed by kas'));
  }

  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      current?.cancel();
      ownClient?.close();
    },
  };
}

function createClient(options: ConfigurationWatchOptions): grpc.Client {
  if (!options.target) throw new TypeError('watchAgentConfiguration needs a client or a target');
  return new grpc.Client(options.target.address, options.target.credentials, options.target.channelOptions ?? {});
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
