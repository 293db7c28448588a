// Which tree item a command acts on (no `vscode` import, so model tests can check it).
import type { AgentsNode } from '../trees/nodes';

/**
 * The tree item a command acts on. VS Code passes the item a context menu was opened on, but
 * when the tree refreshed in between (a watch event re-renders it) the item's handle is gone
 * and the command gets no argument; a keybinding or the palette passes none either. Then the
 * selected item stands in, when it is of a kind the command takes.
 */
export function argumentOrSelection<K extends AgentsNode['kind']>(
  arg: unknown,
  selection: readonly AgentsNode[],
  kinds: readonly K[],
): Extract<AgentsNode, { kind: K }> | undefined {
  const isTarget = (node: unknown): node is Extract<AgentsNode, { kind: K }> =>
    typeof node === 'object' && node !== null && kinds.includes((node as AgentsNode).kind as K);
  if (arg !== undefined) return isTarget(arg) ? arg : undefined;
  return selection.length === 1 && isTarget(selection[0]) ? selection[0] : undefined;
}
