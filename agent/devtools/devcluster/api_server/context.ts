// What every request handler gets: the request, its route and caller, and the server's parts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../internal/log';
import type { TokenAuthenticator } from '../auth/tokens';
import type { ResourceRoute } from './routes';
import type { MemoryObjectStore } from '../store/store';
import type { Authorizer, KubeObject, PodLogSource, UserInfo } from '../types';
import type { ResourceDefinition } from '../schema/resources';

/** The parts that run pods (the simulated kubelet and exec), plugged in when available. */
export interface PodRuntime {
  logs?: PodLogSource;
  handleExecUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, query: URLSearchParams): void;
  handlePortForwardUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, query: URLSearchParams): void;
}

export interface ServerParts {
  store: MemoryObjectStore;
  tokens: TokenAuthenticator;
  authorize: Authorizer;
  logger: Logger;
  runtime: PodRuntime;
  /** The served resource types: the built-in table and what the stored CustomResourceDefinitions add. */
  resources: { readonly definitions: readonly ResourceDefinition[] };
  /** Ends every open watch and log stream; stopping the server calls each. */
  openStreams: Set<() => void>;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  route: ResourceRoute;
  verb: string;
  user: UserInfo;
  parts: ServerParts;
}
