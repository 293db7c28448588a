// The editor language model (extension/src/agent_config): completion, hover and diagnostics at
// given positions, on complete and half-typed documents.
import assert from 'node:assert/strict';
import { completionsAt, diagnosticsFor, hoverAt, isAgentConfigPath } from '../../extension/src/agent_config';

/** Completion at the `|` marker of a text. */
function completeAt(marked: string): ReturnType<typeof completionsAt> {
  const offset = marked.indexOf('|');
  const text = marked.replace('|', '');
  const before = text.slice(0, offset).split('\n');
  return completionsAt(text, before.length - 1, before[before.length - 1]!.length);
}

function labels(marked: string): string[] {
  return completeAt(marked).map((item) => item.label);
}

describe('agent config editor model', () => {
  describe('completionsAt', () => {
    it('offers every top-level key except removed gitops in an empty file', () => {
      assert.deepEqual(labels('|'), ['ci_access', 'user_access', 'observability', 'flux', 'remote_development', 'container_scanning']);
    });

    it('leaves out keys already present in the same mapping', () => {
      const keys = labels('observability:\n  logging:\n    level: info\n    |\n');
      assert.deepEqual(keys, ['grpc_level']);
    });

    it('offers the keys of a list item after "- ", with the required id first', () => {
      const items = completeAt('ci_access:\n  projects:\n    - |');
      assert.deepEqual(items.map((item) => item.label).sort(), ['access_as', 'default_namespace', 'environments', 'id']);
      const sorted = [...items].sort((a, b) => a.sortText.localeCompare(b.sortText));
      assert.equal(sorted[0]!.label, 'id');
      assert.equal(sorted[0]!.detail, 'string (required)');
    });

    it('offers the keys of a list item on its continuation lines, except those written', () => {
      const keys = labels('ci_access:\n  projects:\n    - id: a/b\n      |\n    - id: c/d\n      default_namespace: x\n');
      assert.deepEqual(keys.sort(), ['access_as', 'default_namespace', 'environments']);
    });

    it('offers the one-of access_as modes with documentation', () => {
      const items = completeAt('user_access:\n  access_as:\n    |');
      assert.deepEqual(
        items.map((item) => item.label),
        ['agent', 'user'],
      );
      assert.equal(items[0]!.insertText, 'agent: {}');
      assert.match(items[1]!.documentation, /impersonate the user/);
    });

    it('offers no second access_as mode once one is written', () => {
      assert.deepEqual(labels('user_access:\n  access_as:\n    agent: {}\n    |'), []);
    });

    it('completes enum values with the range of the partial word', () => {
      const items = completeAt('observability:\n  logging:\n    level: de|');
      assert.deepEqual(
        items.map((item) => item.label),
        ['info', 'debug', 'warn', 'error'],
      );
      assert.equal(items[0]!.kind, 'value');
      assert.deepEqual(items[0]!.range, { start: { line: 2, character: 11 }, end: { line: 2, character: 13 } });
    });

    it('completes booleans', () => {
      assert.deepEqual(labels('remote_development:\n  enabled: |'), ['true', 'false']);
    });

    it('inserts nested blocks indented below the key for mappings and lists', () => {
      const items = completeAt('ci_access:\n  |');
      const projects = items.find((item) => item.label === 'projects');
      assert.equal(projects?.insertText, 'projects:\n    - id: ');
      assert.match(projects!.documentation, /At most 500 entries/);
    });

    it('offers nothing inside a value that has no fixed choices', () => {
      assert.deepEqual(labels('flux:\n  webhook_receiver_url: htt|'), []);
    });
  });

  describe('hoverAt', () => {
    const text = 'ci_access:\n  projects:\n    - id: a/b\n      default_namespace: prod\nobservability:\n  logging:\n    level: info\n';

    it('documents a top-level key', () => {
      assert.match(hoverAt(text, 0, 3) ?? '', /^\*\*ci_access\*\* — mapping\n\nLets CI\/CD jobs/);
    });

    it('documents a key inside a list item, with its path', () => {
      assert.match(hoverAt(text, 3, 10) ?? '', /\*\*ci_access\.projects\[0\]\.default_namespace\*\* — string/);
    });

    it('documents an enum value with its allowed values', () => {
      const hover = hoverAt(text, 6, 12) ?? '';
      assert.match(hover, /observability\.logging\.level/);
      assert.match(hover, /Allowed values: `info`, `debug`, `warn`, `error` \(or their numbers `0`, `1`, `2`, `3`\)/);
    });

    it('is undefined for unknown keys and positions outside the text', () => {
      assert.equal(hoverAt('nonsense: 1\n', 0, 2), undefined);
      assert.equal(hoverAt(text, 99, 0), undefined);
    });

    it('shows on gitops that it has no effect', () => {
      assert.match(hoverAt('gitops: {}\n', 0, 1) ?? '', /gitops has no effect/);
    });
  });

  describe('diagnosticsFor', () => {
    it('returns the shared validator diagnostics, including the agent name', () => {
      const diagnostics = diagnosticsFor('observability:\n  loging: {}\n', '/r/.gitlab/agents/BAD/config.yaml');
      assert.deepEqual(
        diagnostics.map((diagnostic) => diagnostic.code),
        ['invalid-agent-name', 'unknown-key'],
      );
      assert.match(diagnostics[1]!.message, /Did you mean "logging"\?/);
    });

    it('recognises agent config paths', () => {
      assert.equal(isAgentConfigPath('/r/.gitlab/agents/a/config.yaml'), true);
      assert.equal(isAgentConfigPath('/r/.gitlab/agents/a/config.json'), false);
    });
  });
});
