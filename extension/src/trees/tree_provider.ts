// Adapts a vscode-free tree model (children + presentation) to a VS Code TreeDataProvider.
import * as vscode from 'vscode';
import type { NodePresentation } from './nodes';

export interface TreeModelAdapter<N> {
  children(node?: N): N[];
  present(node: N, now: number): NodePresentation;
}

export class ModelTreeProvider<N> implements vscode.TreeDataProvider<N>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<N | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: TreeModelAdapter<N>) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(node?: N): N[] {
    return this.model.children(node);
  }

  getTreeItem(node: N): vscode.TreeItem {
    return toTreeItem(this.model.present(node, Date.now()));
  }

  dispose(): void {
    this.changed.dispose();
  }
}

function toTreeItem(p: NodePresentation): vscode.TreeItem {
  const item = new vscode.TreeItem(
    p.label,
    !p.collapsible
      ? vscode.TreeItemCollapsibleState.None
      : p.expanded
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed,
  );
  item.id = p.id;
  item.description = p.description;
  item.tooltip = p.tooltip;
  item.contextValue = p.contextValue;
  if (p.icon) item.iconPath = new vscode.ThemeIcon(p.icon.id, p.icon.color ? new vscode.ThemeColor(p.icon.color) : undefined);
  return item;
}
