// Writes an agent's config.yaml into the config repository as a real commit, the way a person
// would: clone, commit, push. Where the push goes depends on what kas reads:
// - a repository of its own (the local pair, a VM): pushed straight into it. A non-bare one is
//   updated with receive.denyCurrentBranch=updateInstead, so its checked-out work tree follows
//   (git refuses when that work tree has uncommitted changes: a conflict, not lost work).
// - a mirror (`git clone --mirror`, as deploy/kas keeps it): pushed to the mirror's origin, the
//   repository of record (a push into the mirror would be undone by its next fetch), then the
//   mirror is fetched at once. The origin URL must carry push credentials.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AGENTS_FOLDER, GitCommandError, type GitConfigRepository } from './git_repository';

export class AgentFolderExistsError extends Error {
  override name = 'AgentFolderExistsError';
}

/** Another writer moved the branch between our clone and our push, every attempt. */
export class ConfigRepositoryConflictError extends Error {
  override name = 'ConfigRepositoryConflictError';
}

export interface CommitAuthor {
  name: string;
  email: string;
}

const PUSH_ATTEMPTS = 3;
const KAS_COMMITTER: CommitAuthor = { name: 'kas', email: 'kas@localhost' };

export class AgentConfigWriter {
  /** One write at a time in this process: they would only race each other's pushes. */
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly repository: GitConfigRepository) {}

  /** Commits .gitlab/agents/<agent>/config.yaml (refused when the folder exists); resolves with the commit id. */
  addAgentConfig(agent: string, content: string, author: CommitAuthor): Promise<string> {
    const run = this.pending.then(() => this.addWithRetries(agent, content, author));
    this.pending = run.catch(() => undefined);
    return run;
  }

  private async addWithRetries(agent: string, content: string, author: CommitAuthor): Promise<string> {
    const target = await this.pushTarget();
    for (let attempt = 1; ; attempt++) {
      const result = await this.addOnce(target, agent, content, author);
      if (result.kind === 'pushed') {
        if (target.mirror) await this.repository.git(['fetch', '--quiet', '--prune', 'origin']);
        return result.commit;
      }
      if (attempt >= PUSH_ATTEMPTS)
        throw new ConfigRepositoryConflictError(`the config repository kept changing during ${PUSH_ATTEMPTS} attempts`);
    }
  }

  private async pushTarget(): Promise<{ url: string; mirror: boolean }> {
    const mirror = (await this.optionalConfig('remote.origin.mirror')) === 'true';
    if (!mirror) return { url: path.resolve(this.repository.repositoryPath), mirror };
    return { url: (await this.repository.git(['remote', 'get-url', 'origin'])).trim(), mirror };
  }

  private async optionalConfig(key: string): Promise<string | undefined> {
    try {
      return (await this.repository.git(['config', '--get', key])).trim();
    } catch (err) {
      if (err instanceof GitCommandError && err.exitCode === 1) return undefined;
      throw err;
    }
  }

  private async addOnce(
    target: { url: string },
    agent: string,
    content: string,
    author: CommitAuthor,
  ): Promise<{ kind: 'pushed'; commit: string } | { kind: 'moved' }> {
    const work = await mkdtemp(path.join(os.tmpdir(), 'kas-config-'));
    try {
      const clone = path.join(work, 'clone');
      await runGit(work, ['clone', '--quiet', '--single-branch', '--', target.url, clone]);
      const branch = (await runGit(clone, ['symbolic-ref', '--short', 'HEAD'])).trim();
      const folder = path.join(clone, AGENTS_FOLDER, agent);
      if (await exists(folder)) throw new AgentFolderExistsError(`${AGENTS_FOLDER}/${agent}/ already exists in the config repository`);
      await mkdir(folder, { recursive: true });
      const file = `${AGENTS_FOLDER}/${agent}/config.yaml`;
      await writeFile(path.join(clone, file), content);
      await runGit(clone, ['add', '--', file]);
      await runGit(clone, ['commit', '--quiet', '-m', `Add agent ${agent}\n\nRegistered through kas (Connect a Cluster).`], author);
      const commit = (await runGit(clone, ['rev-parse', 'HEAD'])).trim();
      try {
        // For a local non-bare target, its receive-pack updates the checked-out work tree too.
        await runGit(clone, [
          'push',
          '--quiet',
          '--receive-pack=git -c receive.denyCurrentBranch=updateInstead receive-pack',
          'origin',
          `HEAD:refs/heads/${branch}`,
        ]);
      } catch (err) {
        if (err instanceof GitCommandError && /\[rejected\]|non-fast-forward|fetch first/.test(err.stderr)) return { kind: 'moved' };
        throw err;
      }
      return { kind: 'pushed', commit };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

function runGit(cwd: string, args: string[], author: CommitAuthor = KAS_COMMITTER): Promise<string> {
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: KAS_COMMITTER.name,
    GIT_COMMITTER_EMAIL: KAS_COMMITTER.email,
  };
  return new Promise((resolve, reject) => {
    execFile('git', ['-C', cwd, ...args], { encoding: 'utf8', env, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new GitCommandError(args, stderr, err.code ?? err.message));
      else resolve(stdout);
    });
  });
}
