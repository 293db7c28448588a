// Small constructors for diagnostics anchored on YAML nodes.
import type { Node } from 'yaml';
import type { ConfigDiagnostic, ConfigRange, ConfigSeverity } from './types';
import type { YamlSource } from './yaml_source';

const DOCUMENT_START: ConfigRange = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** An error (unless `severity` says otherwise) on the node's text, or on the document start. */
export function diagnosticAt(
  source: YamlSource,
  node: Node | undefined,
  fields: Omit<ConfigDiagnostic, 'range' | 'severity'> & { severity?: ConfigSeverity },
): ConfigDiagnostic {
  const range = node?.range == null ? firstLineRange(source) : source.nodeRange(node);
  return { severity: 'error', ...fields, range };
}

/** The first line of the text: where whole-file problems are shown. */
export function firstLineRange(source: { text: string }): ConfigRange {
  const end = source.text.search(/\r?\n/);
  const length = end === -1 ? source.text.length : end;
  return length === 0 ? DOCUMENT_START : { start: { line: 0, character: 0 }, end: { line: 0, character: length } };
}
