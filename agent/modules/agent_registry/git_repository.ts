// Reads the agent configuration repository with the real git binary: the default branch is
// whatever HEAD names (bare or non-bare repository), agents are `.gitlab/agents/<name>/`.
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import path from 'node:path';

export const AGENTS_FOLDER = '.gitlab/agents';
/** The reference refuses agent config files above 128 KiB; so do we. */
export const MAX_CONFIG_FILE_BYTES = 128 * 1024;

export class GitCommandError extends Error {
  override name = 'GitCommandError';
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | string | undefined,
  ) {
    super(`git ${args.join(' ')} failed (exit ${String(exitCode)}): ${stderr.trim().split('\n')[0] || 'no output'}`);
  }
}

export class NotARepositoryError extends Error {
  override name = 'NotARepositoryError';
}

export interface AgentFolder {
  name: string;
  /** Blob id and size of config.yaml; undefined when the agent has no config file (allowed). */
  configBlob?: { id: string; size: number };
}

export class GitConfigRepository {
  constructor(readonly repositoryPath: string) {}

  /** Runs git in the repository and resolves with stdout. */
  async git(args: string[], maxBuffer = 16 * 1024 * 1024): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        ['-C', this.repositoryPath, ...args],
        { maxBuffer, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } },
        (err, stdout, stderr) => {
          if (err) reject(new GitCommandError(args, stderr, err.code ?? err.message));
          else resolve(stdout);
        },
      );
    });
  }

  /**
   * The absolute git directory (the repository itself when bare), whose ref files we watch.
   * Fails when the path is not itself a repository: git would otherwise happily use an
   * enclosing repository (a plain folder inside some checkout).
   */
  async gitDirectory(): Promise<string> {
    const notARepository = (why: string) => new NotARepositoryError(`${this.repositoryPath} is not a git repository (${why})`);
    let output: string;
    try {
      output = await this.git(['rev-parse', '--absolute-git-dir', '--is-bare-repository']);
    } catch (err) {
      throw notARepository(err instanceof GitCommandError ? err.stderr.trim().replace(/^fatal: /, '') : String(err));
    }
    const [gitDir = '', bare] = output.trim().split('\n');
    // --show-toplevel fails in a bare repository, so ask only a non-bare one.
    const root = bare === 'true' ? gitDir : (await this.git(['rev-parse', '--show-toplevel'])).trim();
    if ((await realpath(root)) !== (await realpath(this.repositoryPath))) throw notARepository(`it lies inside ${root}`);
    return path.resolve(gitDir);
  }

  /** The commit the default branch (HEAD) points at; undefined for a repository without commits. */
  async defaultBranchCommit(): Promise<string | undefined> {
    try {
      return (await this.git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim() || undefined;
    } catch (err) {
      // --quiet exits 1 without output when HEAD points at an unborn branch.
      if (err instanceof GitCommandError && err.exitCode === 1 && err.stderr.trim() === '') return undefined;
      throw err;
    }
  }

  /** Every `.gitlab/agents/<name>/` folder at `commit`, with its config.yaml blob if any. */
  async listAgentFolders(commit: string): Promise<AgentFolder[]> {
    const output = await this.git(['ls-tree', '-r', '-l', '-z', '--full-tree', commit, '--', `${AGENTS_FOLDER}/`]);
    const agents = new Map<string, AgentFolder>();
    for (const entry of output.split('\0')) {
      // "<mode> <type> <id> <size>\t<path>"
      const match = /^\d+ blob ([0-9a-f]+)\s+(\d+|-)\t(.*)$/s.exec(entry);
      if (!match) continue;
      const relative = match[3]!.slice(AGENTS_FOLDER.length + 1).split('/');
      const name = relative[0]!;
      const folder = agents.get(name) ?? { name };
      if (relative.length === 2 && relative[1] === 'config.yaml') folder.configBlob = { id: match[1]!, size: Number(match[2]) };
      agents.set(name, folder);
    }
    return [...agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async readBlob(blobId: string): Promise<string> {
    return this.git(['cat-file', 'blob', blobId]);
  }
}
