// The proxy's hook for a transport that carries the HTTP request as it is (module http_tunnel,
// reverse HTTP/1.1 on connections agentk dialed), instead of as frames of a tunnel stream. The
// proxy authorizes as always, then asks the route first; with no direct connection to the agent
// on this replica it uses the tunnel finder (this replica's streams or another replica's).
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { CallerInfo } from '../rpc';

/** A request kas authenticated and authorized, ready for the agent. */
export interface AuthorizedProxyRequest {
  agentId: string;
  /** The path and query on the Kubernetes API, e.g. /api/v1/pods?watch=1 (the prefix removed). */
  path: string;
  /** Who calls and the access_as that applies: agentk impersonates accordingly. */
  caller: CallerInfo;
  /** Records the answer's status in the proxy's duration metric. */
  observe(status: number): void;
  /**
   * Hands the request back to the proxy's tunnel path (this replica's streams or another
   * replica's), which waits for what is left of the request's wait budget: for a request the
   * direct route can no longer serve (the agent's connections here all went) and that no agent
   * may have acted on. The route answers nothing after calling it. Absent for upgrades.
   */
  useTunnel?(): void;
}

export interface DirectRoute {
  /** Serves the request over a direct connection to the agent; false: none here, use the tunnel. */
  serve(request: AuthorizedProxyRequest, req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** The same for an upgrade (exec, attach, port-forward): the connection is the request's for its lifetime. */
  serveUpgrade(request: AuthorizedProxyRequest, req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

/** No direct transport: every request takes the tunnel. */
export const NO_DIRECT_ROUTE: DirectRoute = { serve: () => false, serveUpgrade: () => false };
