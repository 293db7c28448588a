// Editor support for `.gitlab/agents/<name>/config.yaml`: diagnostics as you type (the same
// validator kas runs), quick fixes, completion and hover. The language logic is vscode-free in
// ../agentConfig; this file only adapts it to VS Code's provider interfaces.
import * as vscode from 'vscode';
import type { ConfigDiagnostic, ConfigRange } from '../../../agent/shared/agent_config';
import { agentNameFromPath } from '../../../agent/shared/agent_config/agent_name';

type AgentConfigModel = typeof import('../agent_config');
let model: AgentConfigModel | undefined;
/**
 * The validator (YAML parser, JSON Schema checks) is loaded on first use, not at activation:
 * most sessions never open an agent config, and its module initialisation dominates start-up.
 * esbuild keeps a require()d module lazy inside the single bundle.
 */
function configModel(): AgentConfigModel {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  model ??= require('../agent_config') as AgentConfigModel;
  return model;
}

const SELECTOR: vscode.DocumentSelector = [{ language: 'yaml', pattern: '**/.gitlab/agents/*/config.{yaml,yml}' }];
const SOURCE = 'agent config';
const VALIDATE_DELAY_MS = 200;

const toRange = (r: ConfigRange) => new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);

const SEVERITY: Record<ConfigDiagnostic['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
};

function toVsDiagnostic(found: ConfigDiagnostic): vscode.Diagnostic {
  const diagnostic = new vscode.Diagnostic(toRange(found.range), found.message, SEVERITY[found.severity]);
  diagnostic.code = found.code;
  diagnostic.source = SOURCE;
  return diagnostic;
}

export function isAgentConfigDocument(document: vscode.TextDocument): boolean {
  return document.uri.scheme !== 'output' && agentNameFromPath(document.uri.path) !== undefined;
}

export class ConfigEditorSupport implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('kubernetesAgents.agentConfigEditor');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** The last validation per document, to find the quick fix of a diagnostic VS Code hands back. */
  private readonly lastFound = new Map<string, ConfigDiagnostic[]>();

  constructor() {
    this.subscriptions.push(
      this.diagnostics,
      vscode.workspace.onDidOpenTextDocument((d) => this.validate(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.diagnostics.delete(d.uri);
        this.lastFound.delete(d.uri.toString());
      }),
      vscode.languages.registerCompletionItemProvider(SELECTOR, { provideCompletionItems: (d, p) => completions(d, p) }, ':', ' ', '-'),
      vscode.languages.registerHoverProvider(SELECTOR, { provideHover: (d, p) => hover(d, p) }),
      vscode.languages.registerCodeActionsProvider(
        SELECTOR,
        { provideCodeActions: (d, _r, c) => quickFixes(d, c, this.lastFound.get(d.uri.toString()) ?? []) },
        { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] },
      ),
    );
    for (const document of vscode.workspace.textDocuments) this.validate(document);
  }

  /** Validates now; returns the diagnostics (empty for files that are not agent configs). */
  validate(document: vscode.TextDocument): ConfigDiagnostic[] {
    if (!isAgentConfigDocument(document)) return [];
    const found = configModel().diagnosticsFor(document.getText(), document.uri.path);
    this.lastFound.set(document.uri.toString(), found);
    this.diagnostics.set(document.uri, found.map(toVsDiagnostic));
    return found;
  }

  dispose(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    for (const subscription of this.subscriptions) subscription.dispose();
  }

  private schedule(document: vscode.TextDocument): void {
    if (!isAgentConfigDocument(document)) return;
    const key = document.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.validate(document);
      }, VALIDATE_DELAY_MS),
    );
  }
}

function completions(document: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] {
  return configModel()
    .completionsAt(document.getText(), position.line, position.character)
    .map((c) => {
      const item = new vscode.CompletionItem(
        c.label,
        c.kind === 'key' ? vscode.CompletionItemKind.Property : vscode.CompletionItemKind.Value,
      );
      item.detail = c.detail;
      item.documentation = new vscode.MarkdownString(c.documentation);
      item.insertText = c.insertText;
      item.range = toRange(c.range);
      item.sortText = c.sortText;
      return item;
    });
}

function hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
  const text = configModel().hoverAt(document.getText(), position.line, position.character);
  return text ? new vscode.Hover(new vscode.MarkdownString(text)) : undefined;
}

function quickFixes(document: vscode.TextDocument, context: vscode.CodeActionContext, found: ConfigDiagnostic[]): vscode.CodeAction[] {
  return context.diagnostics.flatMap((diagnostic) => {
    if (diagnostic.source !== SOURCE) return [];
    const fix = found.find((f) => f.code === diagnostic.code && toRange(f.range).isEqual(diagnostic.range))?.fix;
    if (!fix) return [];
    const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
    action.diagnostics = [diagnostic];
    action.edit = new vscode.WorkspaceEdit();
    for (const edit of fix.edits) action.edit.replace(document.uri, toRange(edit.range), edit.newText);
    action.isPreferred = true;
    return [action];
  });
}
