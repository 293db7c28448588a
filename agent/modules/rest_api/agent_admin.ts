// Connect a Cluster on kas's REST API (POST, user token): register an agent by writing
// .gitlab/agents/<name>/config.yaml into the config repository, then make the agent's token and
// install manifest. Only members of the config project may do either: it is their repository
// being written and their cluster being given a credential. Errors carry our codes and our own
// words (kas_api.ts, AgentAdminErrorCode); git's output goes nowhere but the debug log.
import type * as http from 'node:http';
import { stringify } from 'yaml';
import type { Logger } from '../../internal/log';
import { reachableAddress } from '../../internal/listen';
import type { AgentConfigState, AgentConfigWatcher } from '../agent_configuration/config_watcher';
import { TokenLimitError, type AgentTokenStore } from '../agent_registry/agent_tokens';
import { isWithin } from '../agent_registry/authorize';
import { AgentFolderExistsError, ConfigRepositoryConflictError, type AgentConfigWriter } from '../agent_registry/config_writer';
import { AGENTS_FOLDER } from '../agent_registry/git_repository';
import { DEFAULT_IMAGE, DEFAULT_NAMESPACE, DEFAULT_REPLICAS, DNS_LABEL, renderInstallManifest } from '../agent_registry/install_manifest';
import type { Principal } from '../agent_registry/user_tokens';
import { validateAgentName } from '../../shared/agent_config';
import {
  KAS_ADMIN_API_PATHS,
  type AgentAdminErrorCode,
  type AgentView,
  type ApiErrorBody,
  type CreateAgentInstallResponse,
  type RegisterAgentResponse,
} from '../../shared/kas_api';

/** A reply with its own status; server.ts sends it as is. */
export class ApiReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

export interface AgentAdminOptions {
  configProjectId: string;
  watcher: AgentConfigWatcher;
  writer: AgentConfigWriter;
  agentTokens: AgentTokenStore;
  /** The agent listener, for the default kas address of the manifest ('' before it is bound). */
  agentListener: () => { address: string; tls: boolean };
  logger: Logger;
}

/** Handles one POST; undefined when the path is not one of ours. */
export type AgentAdmin = (
  req: http.IncomingMessage,
  path: string,
  principal: Principal,
  view: (agent: AgentConfigState) => AgentView,
) => Promise<ApiReply | undefined>;

const MAX_BODY_BYTES = 16 * 1024;
const INSTALL_PATH = /^\/api\/v1\/agents\/(\d+)\/install$/;

export function createAgentAdmin(options: AgentAdminOptions): AgentAdmin {
  return async (req, path, principal, view) => {
    const install = INSTALL_PATH.exec(path);
    if (path !== KAS_ADMIN_API_PATHS.registerAgent && !install) return undefined;
    const user = principal.kind === 'user' ? principal : undefined;
    if (!user || !memberOfConfigProject(user, options.configProjectId))
      return fail(
        403,
        'forbidden',
        `only members of the config project ${options.configProjectId} may register agents or create their tokens`,
      );
    const body = await readJsonBody(req);
    if (body === undefined) return fail(400, 'invalid_request', 'the body must be a JSON object of at most 16 KiB');
    return install ? createInstall(Number(install[1]), body, user.username, options) : registerAgent(body, user.username, options, view);
  };
}

type UserPrincipal = Extract<Principal, { kind: 'user' }>;

function memberOfConfigProject(user: UserPrincipal, project: string): boolean {
  return user.projects.includes(project) || user.groups.some((g) => isWithin(project, g));
}

function fail(status: number, code: AgentAdminErrorCode | 'not_found' | 'internal', message: string): ApiReply {
  const body: ApiErrorBody = { error: { code, message } };
  return new ApiReply(status, body);
}

/** The default config of a registered agent: its config project's members may use it, as the agent. */
export function defaultAgentConfig(agent: string, username: string, configProjectId: string): string {
  const config = { user_access: { access_as: { agent: {} }, projects: [{ id: configProjectId }] } };
  return `# Agent ${agent}, registered by ${username} through kas (Connect a Cluster).\n${stringify(config)}`;
}

async function registerAgent(
  body: Record<string, unknown>,
  username: string,
  options: AgentAdminOptions,
  view: (agent: AgentConfigState) => AgentView,
): Promise<ApiReply> {
  if (typeof body.name !== 'string') return fail(400, 'invalid_agent_name', 'give the agent name as "name"');
  const name = body.name;
  const problem = validateAgentName(name);
  if (problem) return fail(400, 'invalid_agent_name', problem);
  const taken = () => fail(409, 'agent_exists', `agent "${name}" already exists in ${options.configProjectId}`);
  if (options.watcher.agentByName(name)) return taken();
  let commit: string;
  try {
    commit = await options.writer.addAgentConfig(name, defaultAgentConfig(name, username, options.configProjectId), {
      name: username,
      email: `${username}@kas.invalid`,
    });
  } catch (err) {
    if (err instanceof AgentFolderExistsError) return taken();
    if (err instanceof ConfigRepositoryConflictError)
      return fail(409, 'config_repository_conflict', 'the config repository changed during registration; try again');
    // git's text may hold a remote URL with credentials: only its kind goes to the log.
    options.logger.warn('registering an agent: writing the config repository failed', { agent: name, error: (err as Error).name });
    return fail(502, 'config_repository_push_failed', 'could not write the agent configuration into the config repository');
  }
  await options.watcher.refresh();
  const agent = options.watcher.agentByName(name);
  if (!agent) return fail(502, 'config_repository_push_failed', 'the agent configuration was pushed but kas does not see it yet');
  options.logger.info('agent registered', { agent: name, agentId: agent.id, commit, username });
  const reply: RegisterAgentResponse = { agent: view(agent), commit, configFile: `${AGENTS_FOLDER}/${name}/config.yaml` };
  return new ApiReply(201, reply);
}

async function createInstall(
  agentId: number,
  body: Record<string, unknown>,
  username: string,
  options: AgentAdminOptions,
): Promise<ApiReply> {
  const agent = options.watcher.agentById(agentId);
  if (!agent) return fail(404, 'not_found', `no agent with id ${agentId}`);
  const request = installRequest(body, options);
  if ('error' in request) return fail(400, 'invalid_request', request.error);
  let created: Awaited<ReturnType<AgentTokenStore['create']>>;
  try {
    created = await options.agentTokens.create(agent.name, request.tokenName);
  } catch (err) {
    if (err instanceof TokenLimitError) return fail(409, 'token_limit', err.message);
    throw err;
  }
  options.logger.info('agent token created', { agent: agent.name, tokenId: created.info.id, username });
  const manifest = renderInstallManifest({
    agent: agent.name,
    kasAddress: request.kasAddress,
    token: created.token,
    namespace: request.namespace,
    access: { kind: 'cluster-admin' },
    image: DEFAULT_IMAGE,
    replicas: DEFAULT_REPLICAS,
  });
  const reply: CreateAgentInstallResponse = {
    agentId,
    agentName: agent.name,
    token: { id: created.info.id, name: created.info.name, value: created.token },
    manifest,
    installCommand: installCommand(manifest),
  };
  return new ApiReply(201, reply);
}

/** One line for a shell: the manifest, base64 so no quoting can break, piped into kubectl. */
export function installCommand(manifest: string): string {
  return `echo '${Buffer.from(manifest).toString('base64')}' | base64 -d | kubectl apply -f -`;
}

function installRequest(
  body: Record<string, unknown>,
  options: AgentAdminOptions,
): { kasAddress: string; namespace: string; tokenName?: string } | { error: string } {
  const { kasAddress, namespace = DEFAULT_NAMESPACE, tokenName } = body;
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace))
    return { error: 'namespace must be a DNS label' };
  if (tokenName !== undefined && (typeof tokenName !== 'string' || !/^[\w.-]{1,64}$/.test(tokenName)))
    return { error: 'tokenName: 1 to 64 letters, digits, ".", "_" or "-"' };
  const address = kasAddress === undefined ? defaultKasAddress(options) : kasAddress;
  if (typeof address !== 'string' || !isAgentUrl(address)) return { error: 'kasAddress must be a grpc(s):// or ws(s):// URL' };
  return { kasAddress: address, namespace, tokenName: tokenName ?? `install-${new Date().toISOString().slice(0, 10)}` };
}

function defaultKasAddress(options: AgentAdminOptions): string | undefined {
  const listener = options.agentListener();
  return listener.address ? `${listener.tls ? 'grpcs' : 'grpc'}://${reachableAddress(listener.address)}` : undefined;
}

function isAgentUrl(value: string): boolean {
  try {
    return ['grpc:', 'grpcs:', 'ws:', 'wss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** The JSON object in the body (an empty body is {}), or undefined when it is not one or too big. */
async function readJsonBody(req: http.IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
