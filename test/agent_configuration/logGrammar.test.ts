// The log TextMate grammar (syntaxes/workbench-log.tmLanguage.json), run through the real
// TextMate engine VS Code uses (vscode-textmate with the Oniguruma WebAssembly build).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import * as textmate from 'vscode-textmate';

const ROOT = join(__dirname, '..', '..');
const SCOPE = 'text.log.agent-workbench';

async function loadGrammar(): Promise<textmate.IGrammar> {
  const wasm = await readFile(join(ROOT, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== SCOPE) return null;
      const path = join(ROOT, 'syntaxes', 'workbench-log.tmLanguage.json');
      return textmate.parseRawGrammar(await readFile(path, 'utf8'), path);
    },
  });
  const grammar = await registry.loadGrammar(SCOPE);
  if (grammar === null) throw new Error('grammar did not load');
  return grammar;
}

describe('log grammar (TextMate)', () => {
  let grammar: textmate.IGrammar;

  before(async () => {
    grammar = await loadGrammar();
  });

  /** The scopes of the token where `fragment` starts on `line` (tokenized on its own). */
  function scopesOf(line: string, fragment: string): string[] {
    const at = line.indexOf(fragment);
    assert.notEqual(at, -1, `"${fragment}" is not in the line`);
    const { tokens } = grammar.tokenizeLine(line, textmate.INITIAL);
    const token = tokens.find((candidate) => candidate.startIndex <= at && at < candidate.endIndex);
    return token?.scopes ?? [];
  }

  function assertScope(line: string, fragment: string, scopePrefix: string): void {
    const scopes = scopesOf(line, fragment);
    assert.ok(scopes.some((scope) => scope.startsWith(scopePrefix)), `"${fragment}" in ${line}\nhas ${scopes.join(' ')}, wanted ${scopePrefix}`);
  }

  function assertNoScope(line: string, fragment: string, scopePrefix: string): void {
    const scopes = scopesOf(line, fragment);
    assert.ok(!scopes.some((scope) => scope.startsWith(scopePrefix)), `"${fragment}" should not be ${scopePrefix}: ${scopes.join(' ')}`);
  }

  describe('kas/agentk JSON lines', () => {
    const line = '{"time":"2026-11-21T09:25:01.123Z","level":"error","msg":"tunnel closed","agent_id":42,"retry":true,"mod":{"name":"reverse_tunnel"}}';

    it('colours the level value by severity', () => {
      assertScope(line, 'error"', 'markup.deleted.log.level.error');
      assertScope(line.replace('"error"', '"warn"'), 'warn"', 'markup.changed.log.level.warn');
      assertScope(line.replace('"error"', '"info"'), 'info"', 'markup.inserted.log.level.info');
      assertScope(line.replace('"error"', '"debug"'), 'debug"', 'comment.log.level.debug');
    });

    it('marks the time, the message, keys and typed values', () => {
      assertScope(line, '"2026-11-21', 'constant.numeric.date.log');
      assertScope(line, '"tunnel closed"', 'string.quoted.double.log.message');
      assertScope(line, '"agent_id"', 'support.type.property-name.log');
      assertScope(line, '42', 'constant.numeric.log');
      assertScope(line, 'true', 'constant.language.log');
      assertScope(line, '"name"', 'support.type.property-name.log');
      assertScope(line, '"reverse_tunnel"', 'string.quoted.double.log');
    });

    it('reads a JSON line behind the time Kubernetes adds with --timestamps', () => {
      const stamped = '2026-11-21T09:25:01.123456789Z {"time":"2026-11-21T09:25:01Z","level":"warn","msg":"slow"}';
      assertScope(stamped, '2026-11-21T09:25:01.123456789Z', 'constant.numeric.date.log');
      assertScope(stamped, 'warn"', 'markup.changed.log.level.warn');
      assertScope(stamped, '"slow"', 'string.quoted.double.log.message');
    });

    it('does not take a message that mentions "error" for an error level', () => {
      const info = '{"time":"2026-11-21T09:25:01Z","level":"info","msg":"recovered from error"}';
      assertNoScope(info, 'error"}', 'markup.deleted');
    });
  });

  describe('plain and klog lines', () => {
    it('marks RFC 3339 timestamps and level words', () => {
      const line = '2026-11-21T09:25:01.5+01:00 WARN agentk: lease lost, retrying';
      assertScope(line, '2026-11-21', 'constant.numeric.date.log');
      assertScope(line, 'WARN', 'markup.changed.log.level.warn');
      assertScope('2026-11-21 09:25:01 ERROR boom', 'ERROR', 'markup.deleted.log.level.error');
      assertScope('2026-11-21 09:25:01 INFO ok', 'INFO', 'markup.inserted.log.level.info');
      assertScope('2026-11-21 09:25:01 DEBUG detail', 'DEBUG', 'comment.log.level.debug');
    });

    it('reads logfmt level=... and key=value', () => {
      const line = 'ts=2026-11-21T09:25:01Z level=error component=kas msg="redis down"';
      assertScope(line, 'error', 'markup.deleted.log.level.error');
      assertScope(line, 'component', 'support.type.property-name.log');
      assertScope(line, '"redis down"', 'string.quoted.double.log');
    });

    it('splits klog prefixes into level, time, thread and source', () => {
      const line = 'E1121 09:15:03.123456   12345 reflector.go:123] failed to list *v1.Pod';
      assertScope(line, 'E1121', 'markup.deleted.log.level.error');
      assertScope(line, '1121 09:15', 'constant.numeric.date.log');
      assertScope(line, 'reflector.go:123', 'entity.name.section.log.source');
      assertScope(line.replace(/^E/, 'W'), 'W1121', 'markup.changed.log.level.warn');
      assertScope(line.replace(/^E/, 'I'), 'I1121', 'markup.inserted.log.level.info');
    });
  });

  describe('helm output', () => {
    it('marks release results, errors and status fields', () => {
      assertScope('Release "ingress" has been upgraded. Happy Helming!', 'has been upgraded', 'markup.inserted.log.level.info');
      assertScope('Release "ingress" has been upgraded. Happy Helming!', '"ingress"', 'string.quoted.double.log');
      assertScope('Error: UPGRADE FAILED: timed out waiting for the condition', 'UPGRADE', 'markup.deleted.log.level.error');
      assertScope('STATUS: deployed', 'deployed', 'markup.inserted.log.level.info');
      assertScope('STATUS: failed', 'failed', 'markup.deleted.log.level.error');
      assertScope('STATUS: pending-upgrade', 'pending-upgrade', 'markup.changed.log.level.warn');
      assertScope('STATUS: deployed', 'STATUS', 'keyword.other.log.helm.field');
      assertScope('LAST DEPLOYED: Sat Nov 21 09:25:01 2026', 'Sat Nov', 'constant.numeric.date.log');
    });

    it('leaves ordinary text unscoped beyond the grammar root', () => {
      assert.deepEqual(scopesOf('just some words', 'some'), [SCOPE]);
    });
  });
});
