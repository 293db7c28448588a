// Commands on any Kubernetes object (a tree node that names one, or the open k8s-agent document):
// Open as YAML, Describe, Events, Edit and Apply (a server-side dry-run diff, then server-side
// apply; a 409 offers Reload or Force), Apply File, Delete, Scale, Restart Rollout, Copy Name,
// Copy YAML, Attach. Cluster calls run in the background with progress; failures show codes.
import * as vscode from 'vscode';
import { UserFacingError } from '../kas_client/errors';
import type { Services } from '../services';
import { applyPlan, parseObjects, planApply, type ApplyPlan } from '../documents/apply_plan';
import { editableYaml, objectYaml } from '../documents/describe';
import { ApplyConflictError, type ResourceApi } from '../documents/resource_api';
import { restartRollout, RESTARTABLE_KINDS, scale, SCALABLE_KINDS } from '../documents/resource_actions';
import { DiffTexts, documentUri, ResourceDocuments, resourceApiFor } from '../documents/resource_documents';
import { DOCUMENT_SCHEME, parseDocumentPath, refLabel, refOfNode, type ResourceRef } from '../documents/resource_ref';
import { ActiveAgentStatus } from '../status_bar/active_agent';
import type { AgentsNode } from '../trees/nodes';
import { reportFailure } from './cluster_commands';
import { openAttachTerminal } from './stream_commands';

interface Target {
  connectionId: string;
  agentId: string;
  label: string;
}

export function registerResourceCommands(services: Services, agentsView: vscode.TreeView<AgentsNode>): vscode.Disposable[] {
  const documents = new ResourceDocuments(services);
  const diffs = new DiffTexts();
  /** Editable copies opened by Edit and Apply, and the object each stands for. */
  const editCopies = new Map<string, ResourceRef>();
  const status = new ActiveAgentStatus(services, agentsView);

  const refOf = (arg: unknown): ResourceRef | undefined => {
    const fromArg = refOfNode(arg) ?? refOfNode(agentsView.selection.length === 1 ? agentsView.selection[0] : undefined);
    if (fromArg && arg !== undefined) return fromArg;
    const uri = vscode.window.activeTextEditor?.document.uri;
    if (uri?.scheme === DOCUMENT_SCHEME) return parseDocumentPath(uri.path, uri.query)?.ref;
    if (uri && editCopies.has(uri.toString())) return editCopies.get(uri.toString());
    return fromArg;
  };
  const withRef = (what: string, body: (ref: ResourceRef) => Promise<void>) => (arg: unknown) =>
    reportFailure(services, what, async () => {
      const ref = refOf(arg);
      if (!ref) {
        void vscode.window.showInformationMessage(`${what}: choose an object in the Kubernetes Agents view (right-click it).`);
        return;
      }
      await body(ref);
    });
  const inBackground = <T>(title: string, body: () => Promise<T>): Thenable<T> =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, body);

  const openView = async (ref: ResourceRef, view: 'yaml' | 'describe' | 'events') => {
    const document = await vscode.workspace.openTextDocument(documentUri(ref, view));
    if (view === 'yaml' && document.languageId !== 'yaml') await vscode.languages.setTextDocumentLanguage(document, 'yaml');
    await vscode.window.showTextDocument(document, { preview: false });
  };

  /** The dry-run diff, a modal confirmation, then server-side apply; conflicts offer Reload or Force. */
  const applyText = async (api: ResourceApi, text: string, target: Target, editCopy?: vscode.TextDocument) => {
    const objects = parseObjects(text);
    let plan: ApplyPlan;
    try {
      plan = await inBackground('Server-side dry run…', () => planApply(api, objects));
    } catch (error) {
      // The dry run already meets the conflict: the user decides before any diff.
      if (!(await resolveConflict(api, error, editCopy))) return;
      plan = await inBackground('Server-side dry run (force)…', () => planApply(api, objects, true));
    }
    const changes = plan.items.filter((i) => i.change !== 'none');
    if (changes.length === 0) {
      void vscode.window.showInformationMessage(
        `Nothing to apply: the cluster already matches (${plan.items.map((i) => i.label).join(', ')}).`,
      );
      return;
    }
    const name = plan.items.length === 1 ? `${plan.items[0]!.label.replace(/[ /]/g, '_')}.yaml` : 'objects.yaml';
    await vscode.commands.executeCommand(
      'vscode.diff',
      diffs.add(`live/${name}`, plan.liveText),
      diffs.add(`dry-run/${name}`, plan.dryRunText),
      `Apply to ${target.label}: live ↔ dry run`,
      { preview: true },
    );
    const summary = changes.map((i) => `${i.change === 'create' ? 'create' : 'change'} ${i.label}`).join('\n');
    const answer = await vscode.window.showInformationMessage(`Apply to ${target.label}?`, { modal: true, detail: summary }, 'Apply');
    if (answer !== 'Apply') return;
    try {
      await inBackground('Applying…', () => applyPlan(api, plan));
    } catch (error) {
      if (!(await resolveConflict(api, error, editCopy))) return;
      await inBackground('Applying (force)…', () => applyPlan(api, plan, true));
    }
    void vscode.window.showInformationMessage(`Applied ${changes.map((i) => i.label).join(', ')}.`);
  };

  /** A 409: the fields and their managers; true when the user chose Force Apply (Reload reloads the copy). */
  const resolveConflict = async (api: ResourceApi, error: unknown, editCopy?: vscode.TextDocument): Promise<boolean> => {
    if (!(error instanceof ApplyConflictError)) throw error;
    const fields = error.conflicts.map((c) => `${c.field} (owned by ${c.manager})`).join('\n');
    const choices = [...(error.conflicts.length > 0 ? ['Force Apply'] : []), ...(editCopy ? ['Reload'] : [])];
    const choice = await vscode.window.showWarningMessage(
      error.conflicts.length > 0 ? 'Apply conflicts with fields another manager set' : 'The object changed since it was loaded',
      { modal: true, detail: fields || 'Reload to edit the current version.' },
      ...choices,
    );
    if (choice === 'Reload' && editCopy) await reloadCopy(api, editCopy);
    return choice === 'Force Apply';
  };

  const reloadCopy = async (api: ResourceApi, copy: vscode.TextDocument) => {
    const ref = editCopies.get(copy.uri.toString());
    if (!ref) return;
    const live = await api.get(ref);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(copy.uri, new vscode.Range(0, 0, copy.lineCount, 0), editableYaml(live));
    await vscode.workspace.applyEdit(edit);
  };

  const pickTarget = async (): Promise<Target | undefined> => {
    const picks = services.store.list().flatMap((connection) =>
      (services.model.cachedAgents(connection.id) ?? []).map((agent) => ({
        label: agent.name,
        description: connection.label,
        target: { connectionId: connection.id, agentId: agent.id, label: `${agent.name} (${connection.label})` },
      })),
    );
    if (picks.length === 0) throw new UserFacingError('NO_AGENT', 'no agent is known yet: add a connection and expand it');
    return picks.length === 1 ? picks[0]!.target : (await vscode.window.showQuickPick(picks, { title: 'Apply to which agent?' }))?.target;
  };

  const targetOf = (ref: ResourceRef): Target => ({ connectionId: ref.connectionId, agentId: ref.agentId, label: status.agentLabel(ref) });

  const handlers: Record<string, (arg: unknown) => Promise<void>> = {
    openYaml: withRef('Open as YAML', (ref) => openView(ref, 'yaml')),
    describe: withRef('Describe', (ref) => openView(ref, 'describe')),
    showEvents: withRef('Show Events', (ref) => openView(ref, 'events')),
    editAndApply: withRef('Edit and Apply', async (ref) => {
      const api = await resourceApiFor(services, ref);
      const live = await inBackground(`Loading ${refLabel(ref)}…`, () => api.get(ref));
      const copy = await vscode.workspace.openTextDocument({ language: 'yaml', content: editableYaml(live) });
      editCopies.set(copy.uri.toString(), ref);
      await vscode.window.showTextDocument(copy, { preview: false });
      void vscode.window.showInformationMessage(
        `Editing ${refLabel(ref)}: run "Apply to Cluster" (editor title) to see the dry-run diff and apply.`,
      );
    }),
    applyFile: (arg) =>
      reportFailure(services, 'Apply to Cluster', async () => {
        const document =
          arg instanceof vscode.Uri ? await vscode.workspace.openTextDocument(arg) : vscode.window.activeTextEditor?.document;
        if (!document) throw new UserFacingError('NO_EDITOR', 'open a YAML file first');
        const ref = editCopies.get(document.uri.toString());
        const target = ref ? targetOf(ref) : await pickTarget();
        if (!target) return;
        await applyText(await resourceApiFor(services, target), document.getText(), target, ref ? document : undefined);
      }),
    deleteResource: withRef('Delete', async (ref) => {
      const answer = await vscode.window.showWarningMessage(
        `Delete ${refLabel(ref)}?`,
        { modal: true, detail: `On ${status.agentLabel(ref)}. This cannot be undone.` },
        'Delete',
      );
      if (answer !== 'Delete') return;
      const api = await resourceApiFor(services, ref);
      await inBackground(`Deleting ${refLabel(ref)}…`, () => api.delete(ref));
      void vscode.window.showInformationMessage(`${refLabel(ref)} deleted.`);
    }),
    scale: withRef('Scale', async (ref) => {
      if (!SCALABLE_KINDS.has(ref.kind)) throw new UserFacingError('NOT_SCALABLE', `a ${ref.kind} has no replica count`);
      const api = await resourceApiFor(services, ref);
      const live = await api.get(ref);
      const current = (live.spec as { replicas?: number } | undefined)?.replicas ?? 1;
      const text = await vscode.window.showInputBox({
        title: `Scale ${refLabel(ref)}`,
        prompt: 'Replicas',
        value: String(current),
        validateInput: (value) => (/^\d{1,5}$/.test(value.trim()) ? undefined : 'a whole number (0 or more)'),
      });
      if (text === undefined) return;
      await inBackground(`Scaling ${refLabel(ref)}…`, () => scale(api, ref, Number(text.trim())));
      void vscode.window.showInformationMessage(`${refLabel(ref)} scaled to ${text.trim()}.`);
    }),
    restartRollout: withRef('Restart Rollout', async (ref) => {
      if (!RESTARTABLE_KINDS.has(ref.kind)) throw new UserFacingError('NOT_RESTARTABLE', `a ${ref.kind} has no rollout`);
      const api = await resourceApiFor(services, ref);
      await inBackground(`Restarting ${refLabel(ref)}…`, () => restartRollout(api, ref, new Date()));
      void vscode.window.showInformationMessage(`${refLabel(ref)} restarting.`);
    }),
    copyName: withRef('Copy Name', async (ref) => {
      await vscode.env.clipboard.writeText(ref.name);
    }),
    copyYaml: withRef('Copy YAML', async (ref) => {
      const api = await resourceApiFor(services, ref);
      await vscode.env.clipboard.writeText(objectYaml(await api.get(ref)));
      void vscode.window.showInformationMessage(`YAML of ${refLabel(ref)} copied.`);
    }),
    attach: (arg) =>
      withRef('Attach', async (ref) => {
        if (ref.kind !== 'Pod' || !ref.namespace) throw new UserFacingError('NOT_A_POD', 'attach works on a pod or a container');
        const api = await resourceApiFor(services, ref);
        const pod = await api.get(ref);
        const names = ((pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).map((c) => c.name);
        const fromNode = containerOf(arg) ?? containerOf(agentsView.selection[0]);
        const container =
          fromNode ?? (names.length <= 1 ? names[0] : await vscode.window.showQuickPick(names, { title: 'Attach to which container?' }));
        if (container) openAttachTerminal(services, ref, container);
      })(arg),
  };
  return [
    documents,
    diffs,
    status,
    ...Object.entries(handlers).map(([name, handler]) => vscode.commands.registerCommand(`kubernetesAgents.${name}`, handler)),
    vscode.workspace.onDidCloseTextDocument((document) => editCopies.delete(document.uri.toString())),
  ];
}

function containerOf(node: unknown): string | undefined {
  const n = node as { kind?: unknown; container?: unknown } | undefined;
  return n?.kind === 'container' && typeof n.container === 'string' ? n.container : undefined;
}
