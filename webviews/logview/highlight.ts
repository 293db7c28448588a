// Log line highlighting with the workbench's TextMate grammar (syntaxes/workbench-log.tmLanguage.json),
// the one the output channels use, run by the engine VS Code itself uses (vscode-textmate on the
// Oniguruma WebAssembly build). No DOM here: the log view renders the spans, and the unit tests
// call exactly this code.
import * as oniguruma from 'vscode-oniguruma';
import * as textmate from 'vscode-textmate';

export const LOG_GRAMMAR_SCOPE = 'text.log.agent-workbench';
/**
 * Longer lines are shown plain: a megabyte of JSON on one line would hold the view for seconds
 * (VS Code's editor stops tokenizing long lines for the same reason).
 */
export const MAX_HIGHLIGHT_LENGTH = 10_000;
/**
 * Tokenizing one line stops after this long (a grammar rule that backtracks badly must not hold
 * the view); the rest of the line stays plain until a retry with a longer limit (see `highlight`).
 */
export const LINE_TIME_LIMIT_MS = 20;

/** A piece of a line, and the CSS class its grammar scopes map to (none for plain text). */
export interface LogSpan {
  text: string;
  className?: string;
}

/**
 * Scope prefixes (the part before the grammar's `.agent-workbench` suffix) to CSS classes, most
 * specific first; the first rule any of a token's scopes starts with wins. The severity classes
 * keep the names the log view has always used (level-*), which UI tests look for.
 */
const SCOPE_CLASSES: readonly (readonly [prefix: string, className: string])[] = [
  ['markup.deleted.log.level.error', 'level-error'],
  ['markup.changed.log.level.warn', 'level-warn'],
  ['markup.inserted.log.level.info', 'level-info'],
  ['comment.log.level.debug', 'level-debug'],
  ['constant.numeric.date.log', 'log-date'],
  ['string.quoted.double.log.message', 'log-message'],
  ['support.type.property-name.log', 'log-key'],
  ['entity.name.section.log', 'log-source'],
  ['keyword.other.log', 'log-keyword'],
  ['constant.numeric.log', 'log-number'],
  ['constant.language.log', 'log-constant'],
  ['string.quoted.double.log', 'log-string'],
];

/** Every class `spans` can give; the log view's stylesheet colours each one. */
export const LOG_TOKEN_CLASSES: readonly string[] = [...new Set(SCOPE_CLASSES.map(([, className]) => className))];

/** The CSS class for a token's scopes (outermost first, as vscode-textmate gives them). */
export function classForScopes(scopes: readonly string[]): string | undefined {
  for (const [prefix, className] of SCOPE_CLASSES) {
    if (scopes.some((scope) => scope.startsWith(prefix))) return className;
  }
  return undefined;
}

/** A line's spans, and whether tokenizing stopped at its time limit (the tail then is plain). */
export interface LineHighlight {
  spans: LogSpan[];
  stoppedEarly: boolean;
}

export class LogHighlighter {
  /** Public for tests that check the grammar's scopes directly. */
  constructor(readonly grammar: textmate.IGrammar) {}

  /** The spans of one line (see `highlight`). */
  spans(line: string): LogSpan[] {
    return this.highlight(line).spans;
  }

  /**
   * Every line starts from the grammar's initial state: log lines do not continue one another, and
   * this lets the view drop old lines and filter without a re-scan. The time limit is wall-clock
   * time: on a busy machine (a descheduled renderer, a GC pause) an ordinary line can exceed it, so
   * `stoppedEarly` tells the caller to try again later rather than keep the line half coloured.
   */
  highlight(line: string, timeLimitMs = LINE_TIME_LIMIT_MS): LineHighlight {
    if (line.length > MAX_HIGHLIGHT_LENGTH) return { spans: [{ text: line }], stoppedEarly: false };
    const { tokens, stoppedEarly } = this.grammar.tokenizeLine(line, textmate.INITIAL, timeLimitMs);
    const spans: LogSpan[] = [];
    let covered = 0;
    for (const token of tokens) {
      const end = Math.min(token.endIndex, line.length);
      if (token.startIndex >= end) continue;
      addSpan(spans, line.slice(token.startIndex, end), classForScopes(token.scopes));
      covered = end;
    }
    if (covered < line.length) addSpan(spans, line.slice(covered), undefined); // stopped early
    return { spans, stoppedEarly };
  }
}

/** Neighbours in the same class become one span: fewer DOM nodes per line. */
function addSpan(spans: LogSpan[], text: string, className: string | undefined): void {
  const previous = spans[spans.length - 1];
  if (previous !== undefined && previous.className === className) previous.text += text;
  else spans.push(className === undefined ? { text } : { text, className });
}

/**
 * Loads Oniguruma (once per page or process; vscode-oniguruma keeps the first instance) and the
 * grammar. `wasm` is onig.wasm's bytes; `rawGrammar` the grammar file's parsed JSON.
 */
export async function createLogHighlighter(wasm: ArrayBuffer, rawGrammar: unknown): Promise<LogHighlighter> {
  await oniguruma.loadWASM(wasm);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) => (scopeName === LOG_GRAMMAR_SCOPE ? (rawGrammar as textmate.IRawGrammar) : null),
  });
  const grammar = await registry.loadGrammar(LOG_GRAMMAR_SCOPE);
  if (grammar === null) throw new Error(`the log grammar ${LOG_GRAMMAR_SCOPE} did not load`);
  return new LogHighlighter(grammar);
}
