// parseAgentConfig: YAML text in, a typed config and diagnostics out. Never throws and never
// hangs on hostile input: size is checked before parsing, and alias expansion is bounded.
import { isMap, isScalar, parseAllDocuments, visit, type Document, type Node, type YAMLError } from 'yaml';
import { firstLineRange, diagnosticAt } from './diagnostic_builders';
import { satisfiesSchema, schemaDiagnostics } from './schema_errors';
import { readSimpleYaml } from './simple_yaml';
import { fieldDiagnostics, findFieldProblems } from './field_checks';
import { dropNullValues, toAgentConfig } from './normalize';
import { agentNameDiagnostics, duplicateEntryDiagnostics, findDuplicateEntries, removedKeyDiagnostics } from './semantic_checks';
import { DiagnosticCodes, type ConfigDiagnostic, type ParseResult } from './types';
import { YAML_READ_OPTIONS } from './yaml_options';
import { lineCounterFor, YamlSource } from './yaml_source';

export { YAML_READ_OPTIONS };

/** The reference refuses config files above 128 KiB. */
export const MAX_CONFIG_BYTES = 128 * 1024;
/**
 * Alias expansion budget for `Document.toJS`. A real config needs few aliases; a billion-laughs
 * file needs exponentially many and is refused as soon as the budget runs out.
 */
export const MAX_ALIAS_COUNT = 100;
/** Diagnostics reported per file; the rest are summed up in one more. */
export const MAX_DIAGNOSTICS = 100;

export interface ParseOptions {
  /** Path of the file; when it is .gitlab/agents/<name>/config.yaml the name is checked too. */
  fileName?: string;
  /** Largest file accepted, in bytes (kascfg agent.configuration.max_configuration_file_size); default MAX_CONFIG_BYTES. */
  maxBytes?: number;
}

export function parseAgentConfig(text: string, options: ParseOptions = {}): ParseResult {
  const nameProblems = agentNameDiagnostics({ text }, options.fileName);
  const oversize = sizeDiagnostic(text, options.maxBytes ?? MAX_CONFIG_BYTES);
  if (oversize !== undefined) return { diagnostics: [...nameProblems, oversize] };
  const content = diagnoseSafely(text);
  const all = [...nameProblems, ...content.diagnostics];
  // Decided before capping: an error beyond the cap still refuses the config.
  const hasError = (content.unmapped ?? 0) > 0 || all.some((diagnostic) => diagnostic.severity === 'error');
  const diagnostics = capped(sortByPosition(all), content.unmapped ?? 0);
  return hasError || content.data === undefined ? { diagnostics } : { config: toAgentConfig(content.data), diagnostics };
}

/** Nobody reads thousands of diagnostics, and an editor slows down showing them. */
function capped(diagnostics: ConfigDiagnostic[], unmapped: number): ConfigDiagnostic[] {
  if (diagnostics.length <= MAX_DIAGNOSTICS && unmapped === 0) return diagnostics;
  const shown = diagnostics.slice(0, MAX_DIAGNOSTICS);
  const more = diagnostics.length - shown.length + unmapped;
  const range = shown[shown.length - 1]?.range ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  return [
    ...shown,
    { severity: 'information', code: DiagnosticCodes.tooManyDiagnostics, message: `${more} more problems are not shown`, path: [], range },
  ];
}

/** Both paths are written not to throw; should one still do so, the caller gets a diagnostic. */
function diagnoseSafely(text: string): ContentCheck {
  try {
    return diagnoseWithSimpleReader(text) ?? diagnoseWithYamlPackage(text);
  } catch (error) {
    const message = `the config could not be checked (internal error: ${error instanceof Error ? error.message : String(error)})`;
    return {
      diagnostics: [{ severity: 'error', code: DiagnosticCodes.internalError, message, path: [], range: firstLineRange({ text }) }],
    };
  }
}

/** What one reading path found: the data (when it could be read) and the content diagnostics. */
export interface ContentCheck {
  data?: Record<string, unknown>;
  diagnostics: ConfigDiagnostic[];
  /** Problems found but not described (see MAX_SCHEMA_ERRORS). */
  unmapped?: number;
}

/**
 * The fast path for the plain block YAML configs are written in (see simpleYaml.ts); undefined
 * when the text uses anything else. A clean config costs one fast read and one schema check;
 * positions for diagnostics come from the reader's own AST, unless comment lines make its
 * collection ends uncertain.
 */
export function diagnoseWithSimpleReader(text: string): ContentCheck | undefined {
  const simple = readSimpleYaml(text);
  if (simple === undefined) return undefined;
  const data = dropNullValues(simple.data);
  const clean = !('gitops' in data) && satisfiesSchema(data) && findDuplicateEntries(data).length === 0;
  if (clean && findFieldProblems(data).length === 0) return { data, diagnostics: [] };
  if (simple.rangesUncertain) return undefined; // the yaml package places these diagnostics
  return { data, ...contentDiagnostics(new YamlSource(text, simple.lineCounter), simple.doc, data) };
}

/** The full path: the yaml package, for any YAML at all, with its syntax errors placed exactly. */
export function diagnoseWithYamlPackage(text: string): ContentCheck {
  const source = new YamlSource(text, lineCounterFor(text));
  const documents = parseAllDocuments(text, YAML_READ_OPTIONS);
  if (documents.length === 0) return { data: {}, diagnostics: [] }; // empty file or only comments
  const doc = documents[0]!;
  const diagnostics = [...yamlProblems(source, doc), ...extraDocumentDiagnostics(source, documents.slice(1))];
  if (doc.errors.some((error) => error.code !== 'DUPLICATE_KEY')) return { diagnostics };
  const plain = toPlainData(source, doc, diagnostics);
  if (plain === undefined) return { diagnostics };
  const data = dropNullValues(plain);
  const content = contentDiagnostics(source, doc, data);
  return { data, diagnostics: [...diagnostics, ...content.diagnostics], unmapped: content.unmapped };
}

function contentDiagnostics(
  source: YamlSource,
  doc: Document,
  data: Record<string, unknown>,
): { diagnostics: ConfigDiagnostic[]; unmapped: number } {
  const schema = schemaDiagnostics({ source, doc, data });
  return {
    diagnostics: [
      ...removedKeyDiagnostics(source, doc, data),
      ...schema.diagnostics,
      ...duplicateEntryDiagnostics(source, doc, data),
      ...fieldDiagnostics(source, doc, data),
    ],
    unmapped: schema.unmapped,
  };
}

function sizeText(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB (${bytes} bytes)` : `${bytes} bytes`;
}

function sizeDiagnostic(text: string, maxBytes: number): ConfigDiagnostic | undefined {
  // A UTF-16 unit is at most 3 UTF-8 bytes; only count bytes when it matters.
  if (text.length <= maxBytes / 3) return undefined;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return undefined;
  return {
    severity: 'error',
    code: DiagnosticCodes.tooLarge,
    message: `config file is ${bytes} bytes; at most ${sizeText(maxBytes)} is allowed`,
    path: [],
    range: firstLineRange({ text }),
  };
}

function yamlProblems(source: YamlSource, doc: Document): ConfigDiagnostic[] {
  const toDiagnostic = (problem: YAMLError, severity: 'error' | 'warning'): ConfigDiagnostic => {
    const duplicate = problem.code === 'DUPLICATE_KEY';
    const [start, end] = duplicate ? keyTokenRange(source.text, problem.pos[0]) : widenEmptyRange(source.text, problem.pos);
    const keyText = source.text.slice(start, end);
    return {
      severity,
      code: duplicate ? DiagnosticCodes.duplicateKey : DiagnosticCodes.yamlSyntax,
      message: duplicate
        ? `duplicate key "${keyText}": the last one is used (as the reference does); remove the others`
        : `YAML syntax error: ${problem.message}`,
      path: [],
      range: source.rangeOf(start, end),
    };
  };
  return [
    ...doc.errors.map((error) => toDiagnostic(error, error.code === 'DUPLICATE_KEY' ? 'warning' : 'error')),
    ...doc.warnings.map((warning) => toDiagnostic(warning, 'warning')),
  ];
}

/** The yaml package points at a duplicate key's first character; cover the whole key. */
function keyTokenRange(text: string, start: number): [number, number] {
  const key = /^("[^"\n]*"|'[^'\n]*'|[^:#\n]*[^:#\s])/.exec(text.slice(start, start + 1024));
  return [start, start + Math.max(1, key?.[0].length ?? 1)];
}

/** Editors hide zero-width ranges: cover the character at (or just before) the position. */
function widenEmptyRange(text: string, [start, end]: [number, number]): [number, number] {
  if (end > start) return [start, end];
  if (start < text.length && text[start] !== '\n' && text[start] !== '\r') return [start, start + 1];
  return start > 0 ? [start - 1, start] : [start, end];
}

function extraDocumentDiagnostics(source: YamlSource, extra: Document[]): ConfigDiagnostic[] {
  if (extra.length === 0) return [];
  const start = extra[0]!.range?.[0] ?? 0;
  return [
    {
      severity: 'warning',
      code: DiagnosticCodes.multipleDocuments,
      message: `only the first YAML document is read (as the reference does); the ${extra.length} after this --- ${extra.length === 1 ? 'is' : 'are'} ignored`,
      path: [],
      range: source.rangeOf(start, source.nextLineStart(start) - 1),
    },
  ];
}

/** The document as plain data, or undefined (with a diagnostic) when it cannot be a config. */
function toPlainData(source: YamlSource, doc: Document, diagnostics: ConfigDiagnostic[]): Record<string, unknown> | undefined {
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) {
    diagnostics.push(
      diagnosticAt(source, doc.contents, {
        code: DiagnosticCodes.notMapping,
        message: 'the config must be a mapping of keys (such as ci_access:) or empty',
        path: [],
      }),
    );
    return undefined;
  }
  const complexKeys = complexKeyDiagnostics(source, doc);
  if (complexKeys.length > 0) {
    diagnostics.push(...complexKeys);
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Record<string, unknown>;
  } catch (error) {
    diagnostics.push(aliasDiagnostic(source, error));
    return undefined;
  }
}

/** Lists, mappings or aliases used as keys: no config key is one, and plain data cannot hold them. */
function complexKeyDiagnostics(source: YamlSource, doc: Document): ConfigDiagnostic[] {
  const found: ConfigDiagnostic[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (pair.key === null || isScalar(pair.key)) return;
      found.push(
        diagnosticAt(source, pair.key as Node, {
          code: DiagnosticCodes.badType,
          message: 'keys must be plain words such as ci_access, not lists, mappings or aliases',
          path: [],
        }),
      );
    },
  });
  return found;
}

function aliasDiagnostic(source: YamlSource, error: unknown): ConfigDiagnostic {
  const firstAlias = source.text.search(/(^|[\s[{,])\*[^\s,\]}]/);
  const offset = firstAlias === -1 ? 0 : source.text.indexOf('*', firstAlias);
  const reason =
    error instanceof ReferenceError
      ? 'aliases expand to too much data (a "billion laughs" pattern?)'
      : `the YAML could not be read: ${String(error)}`;
  return {
    severity: 'error',
    code: DiagnosticCodes.aliasLimit,
    message: `${reason}; at most ${MAX_ALIAS_COUNT} alias expansions are allowed`,
    path: [],
    range: source.rangeOf(offset, offset + 1),
  };
}

function sortByPosition(diagnostics: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return [...diagnostics].sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}
