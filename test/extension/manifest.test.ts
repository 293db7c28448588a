// The manifest contributes the log grammar, the grammar file ships in the .vsix, and its scope
// name is the grammar's own: VS Code colours the output channels with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: {
    languages: Array<{ id: string }>;
    grammars: Array<{ language: string; scopeName: string; path: string }>;
    views: Record<string, Array<{ id: string }>>;
    viewsWelcome: Array<{ view: string; contents: string }>;
    commands: Array<{ command: string }>;
  };
};

describe('extension manifest: the log grammar', () => {
  it('contributes the agent-workbench-log language with the grammar from syntaxes/', () => {
    const grammar = manifest.contributes.grammars.find((g) => g.language === 'agent-workbench-log');
    assert.ok(grammar, 'grammar contribution');
    assert.ok(manifest.contributes.languages.some((l) => l.id === 'agent-workbench-log'));
    const file = JSON.parse(readFileSync(path.join(root, grammar.path), 'utf8')) as { scopeName: string };
    assert.equal(file.scopeName, grammar.scopeName);
  });

  it('keeps the grammar in the .vsix (.vscodeignore) and uses it for the local pair output channel', () => {
    assert.match(readFileSync(path.join(root, '.vscodeignore'), 'utf8'), /^!syntaxes\/\*\.tmLanguage\.json$/m);
    assert.match(
      readFileSync(path.join(root, 'extension/src/local_pair/local_pair_controller.ts'), 'utf8'),
      /createOutputChannel\([^)]*'agent-workbench-log'\)/,
    );
  });
});

describe('extension manifest: welcome views', () => {
  it('gives every view a welcome view (shown while it is empty) whose links are contributed commands', () => {
    const views = Object.values(manifest.contributes.views).flat();
    const commands = new Set(manifest.contributes.commands.map((c) => c.command));
    for (const view of views) {
      const welcome = manifest.contributes.viewsWelcome.find((w) => w.view === view.id);
      assert.ok(welcome, `a welcome view for ${view.id}`);
      const links = [...welcome.contents.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]!);
      assert.ok(links.length > 0, `${view.id}'s welcome view offers a command`);
      for (const link of links) assert.ok(commands.has(link), `${link} is a contributed command`);
    }
  });
});
