// kas side of config delivery: follows the config repository's default branch and keeps, per
// agent, the config in force. A commit is noticed within milliseconds through fs.watch on the
// git directory's ref files, with a short `git rev-parse` poll as a fallback (fs.watch can miss
// events, e.g. on network file systems). The reference polls every 300 s.
// An invalid config.yaml is refused with file, line and message; the last good config stays.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../internal/log';
import type { AgentIdStore } from '../agent_registry/agent_ids';
import { AGENTS_FOLDER, MAX_CONFIG_FILE_BYTES, type AgentFolder, type GitConfigRepository } from '../agent_registry/git_repository';
import { parseAgentConfig, validateAgentName, type AgentConfig } from '../../shared/agent_config';

export interface ConfigError {
  /** Path inside the repository, e.g. .gitlab/agents/dev/config.yaml. */
  file: string;
  /** 1-based, as editors show them. */
  line: number;
  column: number;
  message: string;
}

export interface AgentConfigState {
  id: number;
  name: string;
  /** The commit whose config is in force; null until a valid config has been seen. */
  commit: string | null;
  /** The config in force (the last good one). */
  config?: AgentConfig;
  /** Whether the config at the current head of the default branch is valid. */
  valid: boolean;
  /** Why the config at the head is refused; empty when valid. */
  errors: ConfigError[];
}

interface TrackedAgent extends AgentConfigState {
  /** Blob id of the config.yaml last parsed; null for "no config file". */
  parsedBlob?: string | null;
}

export type ConfigListener = (state: AgentConfigState) => void;

export interface AgentConfigWatcherOptions {
  repository: GitConfigRepository;
  agentIds: AgentIdStore;
  /** The fallback poll; fs.watch usually notices a commit sooner. */
  pollPeriodMs: number;
  /** Watch the git ref files (default true); off, only the poll notices commits. */
  watchRefFiles?: boolean;
  /** Largest config.yaml taken, in bytes (kascfg agent.configuration.max_configuration_file_size; default 128 KiB). */
  maxConfigFileBytes?: number;
  logger: Logger;
}

const FS_EVENT_DEBOUNCE_MS = 15;

export class AgentConfigWatcher {
  private readonly agentsByName = new Map<string, TrackedAgent>();
  private readonly listeners = new Map<string, Set<ConfigListener>>();
  private readonly fsWatchers: FSWatcher[] = [];
  private pollTimer?: NodeJS.Timeout;
  private debounceTimer?: NodeJS.Timeout;
  private headCommit: string | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private stopped = false;

  constructor(private readonly options: AgentConfigWatcherOptions) {}

  /** Reads the repository once (errors here are fatal: a wrong path should stop kas), then follows it. */
  async start(): Promise<void> {
    const gitDir = await this.options.repository.gitDirectory();
    await this.refresh();
    if (this.options.watchRefFiles !== false) this.watchRefFiles(gitDir);
    this.pollTimer = setInterval(() => this.requestRefresh(), this.options.pollPeriodMs);
    this.pollTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    for (const watcher of this.fsWatchers) watcher.close();
    this.listeners.clear();
  }

  agents(): AgentConfigState[] {
    return [...this.agentsByName.values()].map(publicState).sort((a, b) => a.id - b.id);
  }

  agentById(id: number): AgentConfigState | undefined {
    const agent = [...this.agentsByName.values()].find((a) => a.id === id);
    return agent && publicState(agent);
  }

  agentByName(name: string): AgentConfigState | undefined {
    const agent = this.agentsByName.get(name);
    return agent && publicState(agent);
  }

  /** Calls `listener` whenever the config in force for `agentName` changes. */
  subscribe(agentName: string, listener: ConfigListener): () => void {
    const set = this.listeners.get(agentName) ?? new Set();
    set.add(listener);
    this.listeners.set(agentName, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(agentName);
    };
  }

  /** Re-reads the default branch now; concurrent calls coalesce into at most one more run. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = this.refreshLoop().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshLoop(): Promise<void> {
    do {
      this.refreshAgain = false;
      await this.refreshOnce();
    } while (this.refreshAgain && !this.stopped);
  }

  private requestRefresh(): void {
    if (this.stopped) return;
    this.refresh().catch((err: unknown) => this.options.logger.warn('reading the config repository failed', { err }));
  }

  private watchRefFiles(gitDir: string): void {
    const onEvent = () => {
      clearTimeout(this.debounceTimer);
      this.debounceTimer = setTimeout(() => this.requestRefresh(), FS_EVENT_DEBOUNCE_MS);
    };
    // HEAD and packed-refs live in the git dir itself; loose branch refs under refs/heads.
    for (const dir of [gitDir, path.join(gitDir, 'refs', 'heads')]) {
      try {
        const watcher = watch(dir, { persistent: false, recursive: dir !== gitDir }, onEvent);
        watcher.on('error', (err) => this.options.logger.debug('fs.watch failed; the poll still runs', { err, dir }));
        this.fsWatchers.push(watcher);
      } catch (err) {
        this.options.logger.debug('cannot watch the git directory; relying on the poll', { err, dir });
      }
    }
  }

  private async refreshOnce(): Promise<void> {
    const commit = await this.options.repository.defaultBranchCommit();
    if (commit === this.headCommit) return;
    const folders = commit ? await this.options.repository.listAgentFolders(commit) : [];
    const valid = folders.filter((f) => this.isValidAgentFolder(f));
    const ids = await this.options.agentIds.idsFor(valid.map((f) => f.name));
    const changed: TrackedAgent[] = [];
    for (const folder of valid) {
      const agent = await this.updateAgent(folder, ids.get(folder.name)!, commit!);
      if (agent) changed.push(agent);
    }
    this.forgetRemovedAgents(new Set(valid.map((f) => f.name)));
    this.headCommit = commit;
    this.options.logger.debug('config repository read', { commit, agents: valid.length });
    for (const agent of changed) this.notify(agent);
  }

  private isValidAgentFolder(folder: AgentFolder): boolean {
    const problem = validateAgentName(folder.name);
    if (problem)
      this.options.logger.warn('ignoring agent folder with an invalid name', { folder: `${AGENTS_FOLDER}/${folder.name}`, problem });
    return !problem;
  }

  /** Parses the agent's config if its blob changed; returns the agent when its config in force changed. */
  private async updateAgent(folder: AgentFolder, id: number, commit: string): Promise<TrackedAgent | undefined> {
    const agent: TrackedAgent = this.agentsByName.get(folder.name) ?? { id, name: folder.name, commit: null, valid: false, errors: [] };
    this.agentsByName.set(folder.name, agent);
    const blobId = folder.configBlob?.id ?? null;
    if (agent.parsedBlob === blobId) return undefined;
    agent.parsedBlob = blobId;
    const file = `${AGENTS_FOLDER}/${folder.name}/config.yaml`;
    const result = await this.parseFolderConfig(folder, file);
    if ('errors' in result) {
      agent.valid = false;
      agent.errors = result.errors;
      this.options.logger.warn('agent config refused; the last good config stays in force', {
        agent: folder.name,
        commit,
        errors: result.errors.map(formatConfigError),
      });
      return undefined;
    }
    Object.assign(agent, { config: result.config, commit, valid: true, errors: [] });
    this.options.logger.info('agent config updated', { agent: folder.name, commit });
    return agent;
  }

  private async parseFolderConfig(folder: AgentFolder, file: string): Promise<{ config: AgentConfig } | { errors: ConfigError[] }> {
    if (!folder.configBlob) return { config: {} };
    const maxBytes = this.options.maxConfigFileBytes ?? MAX_CONFIG_FILE_BYTES;
    if (folder.configBlob.size > maxBytes) {
      return {
        errors: [
          {
            file,
            line: 1,
            column: 1,
            message: `the file is ${folder.configBlob.size} bytes; at most ${maxBytes} are allowed`,
          },
        ],
      };
    }
    const text = await this.options.repository.readBlob(folder.configBlob.id);
    const parsed = parseAgentConfig(text, { fileName: file, maxBytes });
    const errors = parsed.diagnostics
      .filter((d) => d.severity === 'error')
      .map((d) => ({ file, line: d.range.start.line + 1, column: d.range.start.character + 1, message: d.message }));
    if (errors.length > 0 || !parsed.config)
      return { errors: errors.length > 0 ? errors : [{ file, line: 1, column: 1, message: 'the configuration is invalid' }] };
    return { config: parsed.config };
  }

  private forgetRemovedAgents(present: Set<string>): void {
    for (const name of [...this.agentsByName.keys()]) {
      if (!present.has(name)) this.agentsByName.delete(name);
    }
  }

  private notify(agent: TrackedAgent): void {
    const state = publicState(agent);
    for (const listener of this.listeners.get(agent.name) ?? []) {
      try {
        listener(state);
      } catch (err) {
        this.options.logger.error('config listener failed', { err, agent: agent.name });
      }
    }
  }
}

export function formatConfigError(error: ConfigError): string {
  return `${error.file}:${error.line}:${error.column}: ${error.message}`;
}

function publicState(agent: TrackedAgent): AgentConfigState {
  return { id: agent.id, name: agent.name, commit: agent.commit, config: agent.config, valid: agent.valid, errors: [...agent.errors] };
}
