// kas's admin commands (token, user-token, validate-config), separate from the server so tests
// can call them in-process. Tokens are printed once, on create, and never logged.
import { UsageError, parseCommandLine } from '../internal/cli';
import { validateAgentName, validateConfigFiles } from '../shared/agent_config';
import { AgentIdStore } from '../modules/agent_registry/agent_ids';
import { AgentTokenStore } from '../modules/agent_registry/agent_tokens';
import { GitConfigRepository } from '../modules/agent_registry/git_repository';
import { UserTokenStore, type Principal } from '../modules/agent_registry/user_tokens';
import { loadKasConfig } from '../kascfg/kascfg';

type Write = (line: string) => void;

export const REGISTRY_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;
export const REGISTRY_HELP = {
  config: 'kas configuration file; its registry.data_dir and registry.config_repository are used',
  'data-dir': 'the registry data directory (instead of --config)',
};

export interface Registry {
  dataDir: string;
  configRepository?: string;
}

export async function registryFrom(values: { config?: string; 'data-dir'?: string }): Promise<Registry> {
  if (values['data-dir']) return { dataDir: values['data-dir'] };
  if (!values.config) throw new UsageError('give --config <kascfg.yaml> or --data-dir <dir>');
  const config = await loadKasConfig(values.config);
  return { dataDir: config.registry.dataDir, configRepository: config.registry.configRepository };
}

/** Runs `kas <command> ...`; resolves with the process exit code. */
export async function runAdminCommand(command: string, argv: string[], write: Write): Promise<number> {
  switch (command) {
    case 'token':
      return agentTokenCommand(argv, write);
    case 'user-token':
      return userTokenCommand(argv, write);
    case 'validate-config':
      return validateConfigCommand(argv, write);
    default:
      throw new UsageError(`unknown command "${command}"\nRun 'kas --help' for usage.`);
  }
}

async function agentTokenCommand(argv: string[], write: Write): Promise<number> {
  const { values, positionals } = parseCommandLine(
    {
      name: 'kas token',
      summary: 'manage agent tokens (at most 2 active per agent; only hashes are stored)',
      usage:
        'kas token create --agent <name> [--name <token name>] | list [--agent <name>] | revoke --agent <name> --name <token name or id>  (plus --config or --data-dir)',
      options: { ...REGISTRY_OPTIONS, agent: { type: 'string' }, name: { type: 'string' } },
      help: {
        ...REGISTRY_HELP,
        agent: 'agent name (its folder .gitlab/agents/<name>/)',
        name: 'token name (create) or token name or id (revoke)',
      },
      allowPositionals: true,
    },
    argv,
  );
  const action = singleAction(positionals, 'kas token');
  const registry = await registryFrom(values);
  const agentIds = new AgentIdStore(registry.dataDir);
  const tokens = new AgentTokenStore(registry.dataDir, agentIds);
  switch (action) {
    case 'create': {
      const agent = requireOption(values.agent, '--agent <name>');
      await checkAgentExists(agent, registry);
      const { token, info } = await tokens.create(agent, values.name);
      write(`Created token "${info.name}" (id ${info.id}) for agent "${agent}" (agent id ${await agentIds.idFor(agent)}).`);
      write('Store it now: it is shown only once.');
      write(token);
      return 0;
    }
    case 'list':
      for (const t of await tokens.list(values.agent))
        write(`${t.agentName}\t${t.id}\t${t.name}\t${t.createdAt}\t${t.revokedAt ? `revoked ${t.revokedAt}` : 'active'}`);
      return 0;
    case 'revoke': {
      const revoked = await tokens.revoke(
        requireOption(values.agent, '--agent <name>'),
        requireOption(values.name, '--name <token name or id>'),
      );
      write(`Revoked token "${revoked.name}" (id ${revoked.id}) of agent "${revoked.agentName}".`);
      return 0;
    }
    default:
      throw new UsageError("kas token needs an action: create, list or revoke\nRun 'kas token --help' for usage.");
  }
}

async function userTokenCommand(argv: string[], write: Write): Promise<number> {
  const { values, positionals } = parseCommandLine(
    {
      name: 'kas user-token',
      summary: 'manage user tokens (Bearer pat:<agent-id>:<token>) and CI job tokens (Bearer ci:<agent-id>:<token>)',
      usage:
        'kas user-token create (--user <name> [--group <path>]... [--project <path>]... | --ci-project <path>) [--name <n>] | list | revoke --name <name or id>  (plus --config or --data-dir)',
      options: {
        ...REGISTRY_OPTIONS,
        user: { type: 'string' },
        group: { type: 'string', multiple: true },
        project: { type: 'string', multiple: true },
        'ci-project': { type: 'string' },
        name: { type: 'string' },
      },
      help: {
        ...REGISTRY_HELP,
        user: 'the user the token belongs to',
        group: 'a group the user is a member of (repeatable); membership covers its subgroups and projects',
        project: 'a project the user is a member of (repeatable)',
        'ci-project': 'create a CI job token for a job of this project instead of a user token',
        name: 'token name (create) or token name or id (revoke)',
      },
      allowPositionals: true,
    },
    argv,
  );
  const action = singleAction(positionals, 'kas user-token');
  const tokens = new UserTokenStore((await registryFrom(values)).dataDir);
  switch (action) {
    case 'create': {
      const { token, info } = await tokens.create(principalFrom(values), values.name);
      const owner = info.principal.kind === 'user' ? `user "${info.principal.username}"` : `CI jobs of project "${info.principal.project}"`;
      write(
        `Created token "${info.name}" (id ${info.id}) for ${owner}. Use it as Bearer ${info.principal.kind === 'user' ? 'pat' : 'ci'}:<agent-id>:<token>.`,
      );
      write('Store it now: it is shown only once.');
      write(token);
      return 0;
    }
    case 'list':
      for (const t of await tokens.list())
        write(
          `${t.id}\t${t.name}\t${describePrincipal(t.principal)}\t${t.createdAt}\t${t.revokedAt ? `revoked ${t.revokedAt}` : 'active'}`,
        );
      return 0;
    case 'revoke': {
      const revoked = await tokens.revoke(requireOption(values.name, '--name <token name or id>'));
      write(`Revoked token "${revoked.name}" (id ${revoked.id}).`);
      return 0;
    }
    default:
      throw new UsageError("kas user-token needs an action: create, list or revoke\nRun 'kas user-token --help' for usage.");
  }
}

async function validateConfigCommand(argv: string[], write: Write): Promise<number> {
  const { positionals } = parseCommandLine(
    {
      name: 'kas validate-config',
      summary: 'validate agent config.yaml files',
      usage: 'kas validate-config <file>...',
      options: {},
      help: {},
      allowPositionals: true,
    },
    argv,
  );
  if (positionals.length === 0) throw new UsageError('give at least one file to validate');
  return validateConfigFiles(positionals, write);
}

function principalFrom(values: { user?: string; group?: string[]; project?: string[]; 'ci-project'?: string }): Principal {
  if (values['ci-project'] !== undefined) {
    if (values.user !== undefined) throw new UsageError('give either --user or --ci-project, not both');
    return { kind: 'ci_job', project: values['ci-project'] };
  }
  return {
    kind: 'user',
    username: requireOption(values.user, '--user <name>'),
    groups: values.group ?? [],
    projects: values.project ?? [],
  };
}

function describePrincipal(principal: Principal): string {
  return principal.kind === 'user'
    ? `user ${principal.username} groups=[${principal.groups.join(',')}] projects=[${principal.projects.join(',')}]`
    : `ci_job project=${principal.project}`;
}

function singleAction(positionals: string[], command: string): string | undefined {
  if (positionals.length > 1)
    throw new UsageError(`${command}: unexpected arguments ${positionals.slice(1).join(' ')}\nRun '${command} --help' for usage.`);
  return positionals[0];
}

function requireOption(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${flag}`);
  return value;
}

/** With a kascfg, refuse tokens for agents that are not in the config repository. */
export async function checkAgentExists(agent: string, registry: Registry): Promise<void> {
  const problem = validateAgentName(agent);
  if (problem) throw new UsageError(problem);
  if (!registry.configRepository) return;
  const repository = new GitConfigRepository(registry.configRepository);
  const commit = await repository.defaultBranchCommit();
  const folders = commit ? await repository.listAgentFolders(commit) : [];
  if (!folders.some((f) => f.name === agent)) {
    throw new UsageError(
      `no agent "${agent}" in ${registry.configRepository} (expected a folder .gitlab/agents/${agent}/ on the default branch)`,
    );
  }
}
