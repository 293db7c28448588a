// kas's REST API for the VS Code extension (documented in README.md): JSON over HTTP(S) on its
// own listener, `Authorization: Bearer <user token>` (a bare user token or the proxy form
// pat:<agent-id>:<token>). Errors are JSON { error: { code, message } }; nothing from upstream
// (git, agentk) is ever echoed raw.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Logger } from '../../internal/log';
import type { AgentConfigState, AgentConfigWatcher } from '../agent_configuration/config_watcher';
import { AuthenticationFailures } from '../agent_registry/auth_failures';
import type { Principal, UserTokenStore } from '../agent_registry/user_tokens';
import { ApiReply, type AgentAdmin } from './agent_admin';
import { listen, reachableAddress, type HttpTimeouts } from '../../internal/listen';
import {
  KAS_API_PATHS,
  type AgentConnection,
  type AgentView,
  type ApiErrorBody,
  type ConnectedAgentsView,
  type TunnelFiguresView,
} from '../../shared/kas_api';
import { bearerToken, parseProxyCredential } from '../../shared/proxy_credential';

export interface ApiServerOptions {
  address: string;
  tls?: { certPem: string; keyPem: string };
  version: string;
  configProjectId: string;
  watcher: AgentConfigWatcher;
  connectionsOf: (agentId: number) => AgentConnection[];
  /**
   * With several replicas: a config project's agents connected to any replica, from the shared
   * registry (Redis); rejects while Redis is away (the answer then comes from this replica's view).
   */
  connectedAgentsOfProject?: (
    configProject: string,
  ) => Promise<Array<{ agentId: string; agentName: string; connections: AgentConnection[] }>>;
  userTokens: UserTokenStore;
  /** Failed tokens per client address (and agent id, for pat:<id>:): shared with the proxy; default: this server's own. */
  authenticationFailures?: AuthenticationFailures;
  /** Slow headers and idle keep-alive (api.listen.read_header_timeout, idle_timeout). */
  timeouts?: HttpTimeouts;
  /** GET /api/v1/agents/<id>/tunnel_figures (kubernetes_api/server/tunnel_figures.ts). */
  tunnelFigures?: (agentId: number) => TunnelFiguresView;
  /** Connect a Cluster's POST endpoints (agent_admin.ts). */
  agentAdmin?: AgentAdmin;
  logger: Logger;
}

export interface ApiServer {
  address: string;
  url: string;
  stop(): Promise<void>;
}

class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export async function startApiServer(serverOptions: ApiServerOptions): Promise<ApiServer> {
  const options = { ...serverOptions, authenticationFailures: serverOptions.authenticationFailures ?? new AuthenticationFailures() };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    route(req, options)
      .then((body) => (body instanceof ApiReply ? sendJson(res, body.status, body.body) : sendJson(res, 200, body)))
      .catch((err: unknown) => {
        if (err instanceof ApiError) {
          const headers: Record<string, string> = err.status === 401 ? { 'www-authenticate': 'Bearer realm="kas"' } : {};
          if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
          const body: ApiErrorBody = { error: { code: err.code, message: err.message } };
          sendJson(res, err.status, body, headers);
          return;
        }
        options.logger.error('REST API request failed', { err, path: req.url });
        sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
      });
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, handler)
    : http.createServer(handler);
  const address = await listen(server, options.address, options.timeouts);
  const url = `${options.tls ? 'https' : 'http'}://${reachableAddress(address)}/`;
  options.logger.info('REST API listener started', { address });
  return {
    address,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type ServingOptions = ApiServerOptions & { authenticationFailures: AuthenticationFailures };

async function route(req: http.IncomingMessage, options: ServingOptions): Promise<unknown> {
  // Clients join paths onto the base URL either way (with or without its trailing slash): accept "//".
  const url = new URL((req.url ?? '/').replace(/^\/{2,}/, '/'), 'http://kas');
  const path = url.pathname.replace(/\/{2,}/g, '/');
  const configProject = url.searchParams.get('config_project');
  if (req.method === 'POST' && options.agentAdmin && path.startsWith('/api/v1/')) {
    const reply = await options.agentAdmin(req, path, await authenticate(req, options), (a) => agentView(a, options));
    if (reply) return reply;
  }
  if (req.method !== 'GET') throw new ApiError(405, 'method_not_allowed', 'only GET is supported');
  if (!path.startsWith('/api/v1/')) throw new ApiError(404, 'not_found', `no such endpoint: ${path}`);
  await authenticate(req, options);
  if (path === KAS_API_PATHS.version) return { version: options.version };
  if (path === KAS_API_PATHS.agents) {
    // Every agent of this kas comes from its one config repository: the filter keeps all or none.
    const agents = configProject === null || configProject === options.configProjectId ? options.watcher.agents() : [];
    return { agents: agents.map((a) => agentView(a, options)) };
  }
  if (path === KAS_API_PATHS.connectedAgents) return connectedAgents(configProject ?? options.configProjectId, options);
  const match = /^\/api\/v1\/agents\/([^/]+)(\/tunnel_figures)?$/.exec(path);
  if (match) {
    const id = /^\d+$/.test(match[1]!) ? Number(match[1]) : NaN;
    const agent = Number.isNaN(id) ? undefined : options.watcher.agentById(id);
    if (!agent) throw new ApiError(404, 'not_found', `no agent with id ${match[1]}`);
    if (match[2] === undefined) return agentView(agent, options);
    if (options.tunnelFigures) return options.tunnelFigures(agent.id);
  }
  throw new ApiError(404, 'not_found', `no such endpoint: ${path}`);
}

async function authenticate(req: http.IncomingMessage, options: ServingOptions): Promise<Principal> {
  const bearer = bearerToken(req.headers.authorization);
  if (!bearer) throw new ApiError(401, 'unauthorized', 'send Authorization: Bearer <user token>');
  // A user's proxy credential (pat:) works here too: its token part is the user token. A ci: one
  // names a CI job, never a user, so it is taken whole (and matches no user token).
  const credential = parseProxyCredential(req.headers.authorization);
  const token = credential?.kind === 'pat' ? credential.token : bearer;
  const client = { address: req.socket.remoteAddress, agentId: credential?.agentId };
  const checked = await options.authenticationFailures.check(options.userTokens, token, client, (p) => p.kind === 'user');
  if (checked.ok) return checked.principal;
  if (checked.status === 429)
    throw new ApiError(429, 'too_many_requests', 'too many failed authentication attempts; retry later', checked.retryAfterSeconds);
  throw new ApiError(401, 'unauthorized', 'invalid or revoked user token');
}

function agentView(agent: AgentConfigState, options: ApiServerOptions): AgentView {
  return {
    id: agent.id,
    name: agent.name,
    configProject: options.configProjectId,
    config: {
      commit: agent.commit,
      valid: agent.valid,
      errors: agent.errors.map((e) => ({ message: e.message, line: e.line, column: e.column, file: e.file })),
    },
    connections: options.connectionsOf(agent.id),
  };
}

/** The shared registry's answer, or this replica's own view (marked incomplete) when it cannot be read. */
async function connectedAgents(configProject: string, options: ApiServerOptions): Promise<ConnectedAgentsView> {
  if (options.connectedAgentsOfProject) {
    try {
      const agents = await options.connectedAgentsOfProject(configProject);
      return {
        configProject,
        complete: true,
        agents: agents.map((a) => ({
          id: Number(a.agentId),
          name: a.agentName || (options.watcher.agentById(Number(a.agentId))?.name ?? ''),
          configProject,
          connections: a.connections,
        })),
      };
    } catch (err) {
      options.logger.warn('shared agent registry unreadable; answering from this replica', { err: String(err) });
    }
  }
  const own = configProject === options.configProjectId ? options.watcher.agents() : [];
  const agents = own
    .map((a) => ({ id: a.id, name: a.name, configProject, connections: options.connectionsOf(a.id) }))
    .filter((a) => a.connections.length > 0);
  return { configProject, complete: !options.connectedAgentsOfProject, agents };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
