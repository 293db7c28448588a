// Real configs from public repositories (test/fixtures/agent_configs/real_world, sources in its
// README and sources.json): each one the reference accepts is accepted here, and each one it
// refuses is refused for the same reason (the same keys and paths).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAgentConfig, type ConfigDiagnostic } from '../../../agent/shared/agent_config';

const CORPUS = join(__dirname, '..', '..', 'fixtures', 'agent_configs', 'real_world');

interface Source {
  file: string;
  repo: string;
  path: string;
  commit: string;
  reference: 'accepts' | 'refuses';
  why?: string;
  errors?: { code: string; path: string }[];
}

const sources = JSON.parse(readFileSync(join(CORPUS, 'sources.json'), 'utf8')) as Source[];

const errorsOf = (diagnostics: ConfigDiagnostic[]) =>
  diagnostics
    .filter((diagnostic) => diagnostic.severity === 'error')
    .map((diagnostic) => ({ code: diagnostic.code, path: diagnostic.path.join('.') }));

describe('real-world agent configs', () => {
  it('holds at least 30 configs, each with its source', () => {
    assert.ok(sources.length >= 30, `${sources.length} configs`);
    for (const source of sources)
      assert.match(`${source.repo} ${source.path} ${source.commit}`, /^\S+\/\S+ \.gitlab\/agents\/[^/]+\/config\.yaml [0-9a-f]{40}$/);
  });

  for (const source of sources) {
    it(`${source.reference === 'accepts' ? 'accepts' : 'refuses'} ${source.repo} ${source.path}`, () => {
      const text = readFileSync(join(CORPUS, source.file), 'utf8');
      const result = parseAgentConfig(text, { fileName: source.path });
      if (source.reference === 'accepts') {
        assert.deepEqual(errorsOf(result.diagnostics), []);
        assert.ok(result.config, 'the config is returned');
      } else {
        assert.equal(result.config, undefined);
        assert.deepEqual(errorsOf(result.diagnostics), source.errors, source.why);
      }
    });
  }
});
