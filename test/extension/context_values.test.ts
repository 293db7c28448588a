// The tree items' contextValues against the menus of package.json: every value the tree can
// produce (from the real presentation functions, one node of each kind and state) has the
// `kubernetesAgents.` prefix; every `viewItem` clause of a view/item/context menu, and each of a
// regular expression's alternatives, matches at least one value of its view; and every value
// meant to have a menu has one.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_KINDS, kindId, type KindInfo } from '../../extension/src/cache/kinds';
import type { AgentInfo } from '../../extension/src/kas_client/kas_api';
import type { AppState } from '../../extension/src/managed_apps/state';
import { presentAppsTreeNode, type AppsTreeNode } from '../../extension/src/managed_apps/tree';
import { PortForward, type PortForwardStatus } from '../../extension/src/streams/port_forward';
import type { PodPhase } from '../../extension/src/trees/format';
import { present, type AgentsNode, type GroupId } from '../../extension/src/trees/nodes';

// Records keyed by each union: the compiler fails this file when a state is added and not listed.
/** The tree's pod phase (its contextValue suffix) and the pod status.phase that shows as it. */
const POD_PHASES: Record<PodPhase, string> = {
  pending: 'Pending',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  unknown: 'Unknown',
};
const GROUPS: Record<GroupId, true> = { workloads: true, network: true, config: true, events: true, cluster: true, custom: true };
// `ended` forwards leave the list (and the tree) at once.
const SHOWN_FORWARD_STATUSES: Record<Exclude<PortForwardStatus, 'ended'>, true> = { active: true, reconnecting: true };
const APP_STATES: Record<AppState, true> = {
  installable: true,
  scheduled: true,
  installing: true,
  installed: true,
  errored: true,
  updating: true,
  updated: true,
  update_errored: true,
  uninstalling: true,
  uninstall_errored: true,
  externally_installed: true,
};
/** Values with no menu on purpose: rows that only group or inform. */
const WITHOUT_MENU = [
  /^kubernetesAgents\.message$/,
  /^kubernetesAgents\.group\./,
  /^kubernetesAgents\.kind\./,
  /^kubernetesAgents\.portForwards$/,
];

/** Custom kinds found by discovery; one shares a built-in kind's name, which kind-specific menus must not match. */
const CUSTOM_KINDS: KindInfo[] = [
  { kind: 'Widget', group: 'example.com', version: 'v1', plural: 'widgets', namespaced: true },
  { kind: 'Deployment', group: 'example.com', version: 'v1', plural: 'deployments', namespaced: true },
];
const KINDS = [...Object.values(BUILTIN_KINDS), ...CUSTOM_KINDS];
const scope = { connectionId: 'c', agentId: '1' };

function agent(connected: boolean, valid: boolean): AgentInfo {
  return {
    id: '1',
    name: 'dev',
    configProject: 'group/project',
    config: { commit: null, valid, errors: valid ? [] : [{ line: 1, column: 1, message: 'bad' }] },
    connections: connected
      ? [
          {
            podNamespace: 'agents',
            podName: 'agentk-0',
            version: 'v1',
            connectedSince: '2026-01-01T00:00:00Z',
          } as AgentInfo['connections'][0],
        ]
      : [],
  } as AgentInfo;
}

function agentsViewNodes(): AgentsNode[] {
  const forwards = Object.keys(SHOWN_FORWARD_STATUSES).map((status) => {
    const forward = new PortForward(() => Promise.reject(new Error('never started')), {
      namespace: 'default',
      pod: 'web',
      remotePort: 80,
      localPort: 0,
    });
    forward.state.status = status as PortForwardStatus;
    return forward;
  });
  return [
    { kind: 'connection', connectionId: 'c', label: 'kas', url: 'https://kas.example' },
    ...[true, false].flatMap((connected) =>
      [true, false].map((valid): AgentsNode => ({ kind: 'agent', connectionId: 'c', agent: agent(connected, valid) })),
    ),
    { kind: 'namespace', ...scope, namespace: 'default' },
    ...Object.keys(GROUPS).map((group): AgentsNode => ({ kind: 'group', ...scope, namespace: 'default', group: group as GroupId })),
    ...KINDS.map((info): AgentsNode => ({ kind: 'kindList', ...scope, namespace: 'default', info })),
    ...KINDS.filter((info) => info !== BUILTIN_KINDS.Pod).map((info): AgentsNode => ({
      kind: 'resource',
      ...scope,
      namespace: info.namespaced ? 'default' : '',
      info,
      object: { apiVersion: 'v1', kind: info.kind, metadata: { name: 'x', namespace: 'default' } },
    })),
    ...Object.values(POD_PHASES).map((phase): AgentsNode => ({
      kind: 'pod',
      ...scope,
      namespace: 'default',
      pod: { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'main' }] }, status: { phase } },
    })),
    { kind: 'container', ...scope, namespace: 'default', podName: 'p', container: 'main' },
    { kind: 'message', parentId: 'c/c', text: 'Loading…', severity: 'loading' },
    { kind: 'portForwards', count: forwards.length },
    ...forwards.map((forward): AgentsNode => ({ kind: 'portForward', forward })),
  ];
}

function managedAppsViewNodes(): AppsTreeNode[] {
  return [
    { kind: 'agent', connectionId: 'c', agent: agent(true, true) },
    { kind: 'agent', connectionId: 'c', agent: agent(false, true) },
    { kind: 'message', parentId: 'c/c/a/1', text: 'Loading…', severity: 'loading' },
    ...Object.keys(APP_STATES).map((state): AppsTreeNode => ({
      kind: 'managedApp',
      ...scope,
      app: { app: 'ingress', title: 'Ingress', state: state as AppState, podName: undefined, installedVersion: undefined },
    })),
  ];
}

interface ItemMenu {
  command: string;
  view: string;
  /** The viewItem test as one predicate per alternative (a regex's top-level `|` branches). */
  alternatives: Array<{ text: string; test: (value: string) => boolean }>;
}

/** The top-level branches of a regular expression source (not those inside a group or a class). */
function topLevelBranches(source: string): string[] {
  const branches: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') i++;
    else if (inClass) inClass = ch !== ']';
    else if (ch === '[') inClass = true;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      branches.push(source.slice(start, i));
      start = i + 1;
    }
  }
  return [...branches, source.slice(start)];
}

/** Reads `view == <id> && viewItem (== <value> | =~ /<re>/<flags>)`; any other form fails the test (extend this reader then). */
function parseItemMenu(command: string, when: string): ItemMenu {
  let view: string | undefined;
  let alternatives: ItemMenu['alternatives'] | undefined;
  for (const term of when.split('&&').map((t) => t.trim())) {
    let match: RegExpMatchArray | null;
    if ((match = /^view == ([\w.]+)$/.exec(term))) view = match[1];
    else if ((match = /^viewItem == ([\w.]+)$/.exec(term))) {
      const value = match[1]!;
      alternatives = [{ text: value, test: (v) => v === value }];
    } else if ((match = /^viewItem =~ \/(.+)\/([a-z]*)$/.exec(term))) {
      const flags = match[2]!;
      alternatives = topLevelBranches(match[1]!).map((branch) => {
        const re = new RegExp(branch, flags);
        return { text: branch, test: (v: string) => re.test(v) };
      });
    } else assert.fail(`${command}: a when clause term this test cannot read: "${term}" (in "${when}")`);
  }
  assert.ok(view && alternatives, `${command}: "${when}" names no view or no viewItem`);
  return { command, view, alternatives };
}

describe('tree contextValues and the menus of package.json', () => {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
    contributes: { menus: Record<string, Array<{ command: string; when?: string }>> };
  };
  const menus = manifest.contributes.menus['view/item/context']!.map((m) => parseItemMenu(m.command, m.when ?? ''));
  const valuesByView: Record<string, string[]> = {
    'kubernetesAgents.agents': [...new Set(agentsViewNodes().map((node) => present(node, 0).contextValue))],
    'kubernetesAgents.managedApps': [...new Set(managedAppsViewNodes().map((node) => presentAppsTreeNode(node, 0).contextValue))],
  };

  it('gives every node kind and state its own value, each with the kubernetesAgents. prefix', () => {
    for (const values of Object.values(valuesByView))
      for (const value of values) assert.match(value, /^kubernetesAgents\.[a-zA-Z]+(\.[\w.-]+)?$/, value);
    assert.deepEqual(
      [...valuesByView['kubernetesAgents.agents']!].sort(),
      [
        'kubernetesAgents.connection',
        'kubernetesAgents.agent.connected',
        'kubernetesAgents.agent.disconnected',
        'kubernetesAgents.namespace',
        ...Object.keys(GROUPS).map((group) => `kubernetesAgents.group.${group}`),
        ...KINDS.map((info) => `kubernetesAgents.kind.${kindId(info)}`),
        ...KINDS.filter((info) => info !== BUILTIN_KINDS.Pod).map((info) => `kubernetesAgents.resource.${kindId(info)}`),
        ...Object.keys(POD_PHASES).map((phase) => `kubernetesAgents.pod.${phase}`),
        'kubernetesAgents.container',
        'kubernetesAgents.message',
        'kubernetesAgents.portForwards',
        ...Object.keys(SHOWN_FORWARD_STATUSES).map((status) => `kubernetesAgents.portForward.${status}`),
      ].sort(),
    );
    assert.deepEqual(
      [...valuesByView['kubernetesAgents.managedApps']!].sort(),
      [
        'kubernetesAgents.agent.connected',
        'kubernetesAgents.agent.disconnected',
        'kubernetesAgents.message',
        ...Object.keys(APP_STATES).map((state) => `kubernetesAgents.managedApp.${state}`),
      ].sort(),
    );
  });

  it('has no menu clause, nor any alternative of one, that matches no value its view can show', () => {
    const dead: string[] = [];
    for (const menu of menus) {
      const values = valuesByView[menu.view];
      assert.ok(values, `${menu.command}: a menu for view ${menu.view}, which this test does not know`);
      for (const alternative of menu.alternatives)
        if (!values.some((value) => alternative.test(value))) dead.push(`${menu.command} (${menu.view}): ${alternative.text}`);
    }
    assert.deepEqual(dead, []);
  });

  it('shows the commands meant for some kinds or states on those only', () => {
    /** Which values of the agents view each command's menus match, all its menus together. */
    const shownOn = (command: string) =>
      valuesByView['kubernetesAgents.agents']!.filter((value) =>
        menus.some(
          (menu) => menu.command === command && menu.view === 'kubernetesAgents.agents' && menu.alternatives.some((a) => a.test(value)),
        ),
      ).sort();
    const running = 'kubernetesAgents.pod.running';
    const container = 'kubernetesAgents.container';
    // Deployment.example.com is a custom resource: it has no scale subresource nor rollout.
    assert.deepEqual(shownOn('kubernetesAgents.scale'), [
      'kubernetesAgents.resource.deployment',
      'kubernetesAgents.resource.replicaset',
      'kubernetesAgents.resource.statefulset',
    ]);
    assert.deepEqual(shownOn('kubernetesAgents.restartRollout'), [
      'kubernetesAgents.resource.daemonset',
      'kubernetesAgents.resource.deployment',
      'kubernetesAgents.resource.statefulset',
    ]);
    // A process runs only in a running pod; a forward listens on a running pod's port.
    assert.deepEqual(shownOn('kubernetesAgents.openTerminal'), [container, running]);
    assert.deepEqual(shownOn('kubernetesAgents.portForward'), [running]);
    assert.deepEqual(shownOn('kubernetesAgents.stopPortForward'), [
      'kubernetesAgents.portForward.active',
      'kubernetesAgents.portForward.reconnecting',
    ]);
    assert.deepEqual(shownOn('kubernetesAgents.connectCluster'), ['kubernetesAgents.connection']);
  });

  it('gives every value meant for a menu at least one', () => {
    const orphans: string[] = [];
    for (const [view, values] of Object.entries(valuesByView))
      for (const value of values) {
        if (WITHOUT_MENU.some((re) => re.test(value))) continue;
        if (!menus.some((menu) => menu.view === view && menu.alternatives.some((a) => a.test(value)))) orphans.push(`${view}: ${value}`);
      }
    assert.deepEqual(orphans, []);
  });
});
