// Applies quick-fix edits to a text (for kas --fix style tools and tests; VS Code applies its own).
import type { ConfigPosition, ConfigTextEdit } from './types';

function offsetOf(lineStarts: number[], position: ConfigPosition): number {
  return (lineStarts[position.line] ?? lineStarts[lineStarts.length - 1]!) + position.character;
}

/** Applies non-overlapping edits, whatever their order, to `text`. */
export function applyEdits(text: string, edits: readonly ConfigTextEdit[]): string {
  const lineStarts = [0];
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lineStarts.push(index + 1);
  const withOffsets = edits.map((edit) => ({
    start: offsetOf(lineStarts, edit.range.start),
    end: offsetOf(lineStarts, edit.range.end),
    newText: edit.newText,
  }));
  withOffsets.sort((a, b) => b.start - a.start);
  return withOffsets.reduce((result, edit) => result.slice(0, edit.start) + edit.newText + result.slice(edit.end), text);
}
