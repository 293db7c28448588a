// Test helpers for kas: real git repositories in temp dirs, kascfg text with free ports.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createLogger, type Logger } from '../../agent/internal/log';
import { parseKasConfig, type KasConfig } from '../../agent/kascfg/kascfg';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { env: GIT_ENV, encoding: 'utf8' });
}

/** A non-bare repository on branch main; commit() writes files (null deletes) and commits them. */
export class TestRepository {
  readonly dir: string;

  constructor(readonly root: string) {
    this.dir = path.join(root, 'config-repo');
    mkdirSync(this.dir, { recursive: true });
    git(this.dir, 'init', '-q', '-b', 'main');
  }

  commit(files: Record<string, string | null>, message = 'change'): string {
    for (const [file, content] of Object.entries(files)) {
      const full = path.join(this.dir, file);
      if (content === null) {
        git(this.dir, 'rm', '-q', file);
        continue;
      }
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, content);
      git(this.dir, 'add', file);
    }
    git(this.dir, 'commit', '-q', '--allow-empty', '-m', message);
    return git(this.dir, 'rev-parse', 'HEAD').trim();
  }
}

export function makeTempDir(prefix = 'kas-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A kascfg for tests: every listener on a free loopback port; `overrides` are merged in. */
export function testKasConfig(repositoryDir: string, dataDir: string, overrides: Record<string, unknown> = {}): KasConfig {
  const base = {
    agent: { listen: { address: '127.0.0.1:0', listen_grace_period: '0s' }, kubernetes_api: { listen: { address: '127.0.0.1:0' } } },
    observability: { listen: { address: '127.0.0.1:0' } },
    api: { listen: { address: '127.0.0.1:0' } },
    registry: { config_repository: repositoryDir, data_dir: dataDir, project_id: 'team/agents' },
  };
  return parseKasConfig(stringify(deepMerge(base, overrides)), path.join(dataDir, 'kascfg.yaml'));
}

export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    const bothObjects = typeof value === 'object' && value !== null && typeof current === 'object' && current !== null;
    out[key] = bothObjects ? deepMerge(current as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

/** Quiet unless KAS_TEST_LOG=debug|info. */
export function testLogger(): Logger {
  const level = process.env.KAS_TEST_LOG;
  return createLogger({ component: 'kas-test' }, level ? { level: level as 'debug' } : { write: () => undefined });
}
