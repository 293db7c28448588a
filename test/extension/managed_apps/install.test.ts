// Managed apps against the local pair (dev cluster + kas + agentk): install, failed install,
// uninstall, a refused second install, and a fresh model taking over mid-install, all through
// @kubernetes/client-node on the kas k8s proxy, with the dev cluster's simulated helm.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../agent/internal/log';
import { startLocalPair, type LocalPair } from '../../../agent/devtools/local_pair/index';
import { formatProxyCredential } from '../../../agent/shared/proxy_credential';
import { kubeClientFor } from '../../../extension/src/kube/load';
import { LogSession } from '../../../extension/src/logs/log_session';
import { bundledCatalog, parseCatalog } from '../../../extension/src/managed_apps/catalog';
import { ManagedAppsActions, type ManagedAppsUi } from '../../../extension/src/managed_apps/actions';
import type { LogTarget } from '../../../webviews/logview/messages';
import { ManagedAppsError } from '../../../extension/src/managed_apps/errors';
import { kubeConfigForProxy, type KubeConfig } from '../../../extension/src/managed_apps/kube';
import { ManagedAppsModel } from '../../../extension/src/managed_apps/model';
import { ManagedAppsRegistry } from '../../../extension/src/managed_apps/registry';
import type { AppState } from '../../../extension/src/managed_apps/state';
import { runKubectl, type KubectlResult } from '../../support/kubectl';

const quietLogger = () => createLogger({}, { write: () => undefined });
const NS = 'gitlab-managed-apps';

/** Records every state an app goes through, as the model reports it. */
function recordStates(model: ManagedAppsModel, app: string): AppState[] {
  const seen: AppState[] = [model.state(app)];
  model.onDidChange((apps) => {
    const state = apps.find((a) => a.app === app)?.state;
    if (state && state !== seen[seen.length - 1]) seen.push(state);
  });
  return seen;
}

function waitForState(model: ManagedAppsModel, app: string, wanted: AppState, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (model.state(app) === wanted) return resolve();
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`${app} did not reach ${wanted} (it is ${model.state(app)})`));
    }, timeoutMs);
    const unsubscribe = model.onDidChange(() => {
      if (model.state(app) !== wanted) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('managed apps against the local pair', function () {
  this.timeout(120_000);
  let dataDir: string;
  let pair: LocalPair;
  let kubeConfig: KubeConfig;
  const models: ManagedAppsModel[] = [];

  async function newModel(): Promise<ManagedAppsModel> {
    const model = await ManagedAppsModel.create(kubeConfig);
    models.push(model);
    await model.start();
    return model;
  }

  async function kubectl(...args: string[]): Promise<KubectlResult> {
    return runKubectl(args, { kubeconfig: pair.kubeconfigPath });
  }

  async function podExists(name: string): Promise<boolean> {
    return (await kubectl('get', 'pod', '-n', NS, name, '-o', 'name')).code === 0;
  }

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'managed-apps-'));
    pair = await startLocalPair({ dataDir, freePorts: true, logger: quietLogger() });
    kubeConfig = await kubeConfigForProxy({
      k8sProxyUrl: pair.k8sProxyUrl,
      agentId: String(pair.agentId),
      token: pair.userToken,
      caPem: readFileSync(pair.caFile, 'utf8'),
    });
  });

  afterEach(async () => {
    await Promise.all(models.splice(0).map((model) => model.stop()));
  });

  after(async () => {
    await pair?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('installs an app: scheduled → installing → installed through the watch, the pod removed, its log kept', async () => {
    const model = await newModel();
    assert.equal(model.state('ingress'), 'installable');
    const states = recordStates(model, 'ingress');
    await model.install('ingress');
    const pod = JSON.parse((await kubectl('get', 'pod', '-n', NS, 'install-ingress', '-o', 'json')).stdout) as {
      metadata: { labels: Record<string, string> };
      spec: { restartPolicy: string; containers: Array<{ name: string; command: string[]; volumeMounts: Array<{ mountPath: string }> }> };
    };
    assert.deepEqual(pod.metadata.labels, { 'gitlab.org/action': 'install', 'gitlab.org/application': 'ingress' });
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.equal(pod.spec.containers[0]?.name, 'helm');
    assert.match(
      pod.spec.containers[0]?.command.join(' ') ?? '',
      /helm upgrade --install ingress ingress-nginx\/ingress-nginx --atomic --version 4\.10\.1 -f \/data\/helm\/ingress\/config\/values\.yaml/,
    );
    assert.equal(pod.spec.containers[0]?.volumeMounts[0]?.mountPath, '/data/helm/ingress/config');

    await waitForState(model, 'ingress', 'installed');
    // `scheduled` lasts only the dev cluster's start delay: the watch may or may not catch it.
    assert.deepEqual(
      states.filter((s) => s !== 'scheduled'),
      ['installable', 'installing', 'installed'],
    );
    await waitUntil(async () => !(await podExists('install-ingress')), 'install-ingress to be deleted');

    const log = await model.readLog('ingress');
    assert.equal(log?.source, 'saved');
    assert.equal(log?.action, 'install');
    assert.match(log?.text ?? '', /Release "ingress" does not exist\. Installing it now\./);
    assert.match(log?.text ?? '', /NAMESPACE: gitlab-managed-apps\nSTATUS: deployed\nREVISION: 1/);
    const values = await kubectl('get', 'configmap', '-n', NS, 'values-content-configuration-ingress', '-o', 'jsonpath={.data.version}');
    assert.equal(values.stdout, '4.10.1');
    assert.equal(model.apps().find((a) => a.app === 'ingress')?.installedVersion, '4.10.1');
  });

  it('streams the install log live while the helm pod runs (the log view session)', async () => {
    const model = await newModel();
    const target = await model.install('prometheus');
    assert.deepEqual(target, { namespace: NS, pod: 'install-prometheus', container: 'helm' });
    const client = await kubeClientFor({
      server: pair.k8sProxyUrl,
      token: formatProxyCredential('pat', pair.agentId, pair.userToken),
      caPem: readFileSync(pair.caFile, 'utf8'),
    });
    const received: Array<{ line: string; state: AppState }> = [];
    let sessionEnded!: () => void;
    const ended = new Promise<void>((resolve) => (sessionEnded = resolve));
    const session = new LogSession(
      client,
      target,
      { follow: true, tailLines: 1000, waitRetryMs: 200 },
      {
        lines: (lines) => received.push(...lines.map((line) => ({ line, state: model.state('prometheus') }))),
        state: (state) => {
          if (state === 'ended' || state === 'podDeleted') sessionEnded();
        },
      },
    );
    session.start();
    try {
      await waitForState(model, 'prometheus', 'installed');
      await ended;
    } finally {
      await session.stop();
    }
    const first = received.find((r) => r.line.includes('has been added to your repositories'));
    assert.ok(first, `lines: ${received.map((r) => r.line).join(' | ')}`);
    assert.notEqual(first.state, 'installed', 'the first lines arrive while the install still runs');
    assert.ok(received.some((r) => r.line === 'STATUS: deployed'));
  });

  it('a failed install is errored, keeps its pod, and its log shows the helm error', async () => {
    const model = await newModel();
    await model.install('runner', 'gitlabUrl: https://gitlab.example.com/\nsimulate:\n  fail: true\n');
    await waitForState(model, 'runner', 'errored');
    assert.ok(await podExists('install-runner'), 'a failed helm pod stays for its logs');
    const log = await model.readLog('runner');
    assert.equal(log?.source, 'pod');
    assert.match(log?.text ?? '', /Error: release runner failed, and has been uninstalled due to atomic being set/);
    // A retry with good values replaces the failed pod.
    await model.install('runner', 'gitlabUrl: https://gitlab.example.com/\n');
    await waitForState(model, 'runner', 'installed');
  });

  it('uninstalls: uninstalling → installable, release record and pod gone, uninstall log kept', async () => {
    const model = await newModel();
    await model.install('crossplane');
    await waitForState(model, 'crossplane', 'installed');
    const states = recordStates(model, 'crossplane');
    await model.uninstall('crossplane');
    const pod = await kubectl('get', 'pod', '-n', NS, 'uninstall-crossplane', '-o', 'jsonpath={.metadata.labels.gitlab\\.org/action}');
    assert.equal(pod.stdout, 'uninstall');
    await waitForState(model, 'crossplane', 'installable');
    assert.deepEqual(states, ['installed', 'uninstalling', 'installable']);
    await waitUntil(async () => !(await podExists('uninstall-crossplane')), 'uninstall-crossplane to be deleted');
    assert.notEqual((await kubectl('get', 'configmap', '-n', NS, 'values-content-configuration-crossplane')).code, 0);
    const log = await model.readLog('crossplane');
    assert.equal(log?.action, 'uninstall');
    assert.match(log?.text ?? '', /release "crossplane" uninstalled/);
    await assert.rejects(
      model.uninstall('crossplane'),
      (error: unknown) => error instanceof ManagedAppsError && error.code === 'NOT_INSTALLED',
    );
  });

  it('refuses a second install of an app that is being installed, also from another model instance', async () => {
    const model = await newModel();
    const other = await newModel();
    await model.install('fluentd');
    await assert.rejects(
      model.install('fluentd'),
      (error: unknown) =>
        error instanceof ManagedAppsError && error.code === 'APP_BUSY' && /fluentd is already being installed/.test(error.message),
    );
    await assert.rejects(other.install('fluentd'), (error: unknown) => error instanceof ManagedAppsError && error.code === 'APP_BUSY');
    await assert.rejects(other.uninstall('fluentd'), (error: unknown) => error instanceof ManagedAppsError && error.code === 'APP_BUSY');
    await waitForState(model, 'fluentd', 'installed');
  });

  it('a fresh model (a VS Code reload) recovers an install in progress from the cluster and finishes it', async () => {
    const first = await newModel();
    await first.install('elastic_stack');
    await waitForState(first, 'elastic_stack', 'installing');
    await first.stop();
    const second = await newModel();
    assert.ok(['scheduled', 'installing'].includes(second.state('elastic_stack')), second.state('elastic_stack'));
    assert.equal(second.logTarget('elastic_stack')?.pod, 'install-elastic-stack');
    await waitForState(second, 'elastic_stack', 'installed');
    await waitUntil(async () => !(await podExists('install-elastic-stack')), 'install-elastic-stack to be deleted');
    const third = await newModel();
    assert.equal(third.state('elastic_stack'), 'installed', 'an installed app stays installed after another reload');
    assert.match((await third.readLog('elastic_stack'))?.text ?? '', /STATUS: deployed/);
  });

  it('upgrades an installed app with edited values: updating → updated, values stored', async () => {
    const model = await newModel();
    await waitForState(model, 'ingress', 'installed');
    const states = recordStates(model, 'ingress');
    await model.install('ingress', 'controller:\n  replicaCount: 2\n');
    await waitForState(model, 'ingress', 'updated');
    assert.deepEqual(states, ['installed', 'updating', 'updated']);
    assert.match(model.currentValues('ingress'), /replicaCount: 2/);
  });

  it('marks an install errored when its pod outlives the timeout (here 1.5 s instead of 20 min), without waiting for a poll', async () => {
    const catalog = parseCatalog({
      apps: {
        slow_demo: {
          title: 'Slow demo',
          description: 'd',
          chart: 'demo/slow',
          repository: { name: 'demo', url: 'https://charts.example.com' },
          version: '1.0.0',
          values: '',
        },
      },
    });
    const model = await ManagedAppsModel.create(kubeConfig, { catalog, timeoutMs: 1500 });
    models.push(model);
    await model.start();
    await model.install('slow_demo');
    await waitForState(model, 'slow_demo', 'errored', 10_000);
    const phase = await kubectl('get', 'pod', '-n', NS, 'install-slow-demo', '-o', 'jsonpath={.status.phase}');
    assert.notEqual(phase.stdout, 'Succeeded', 'errored by the timeout, not by the pod');
    // A timed-out pod no longer blocks a new install.
    await model.install('slow_demo');
    await waitForState(model, 'slow_demo', 'installed', 30_000);
  });

  it('shows pods of a release that no helm pod of ours installed as externally_installed', async () => {
    const model = await newModel();
    const made = await kubectl(
      'run',
      'external-cert-manager',
      '-n',
      NS,
      '--image=quay.io/jetstack/cert-manager-controller',
      '--labels=app.kubernetes.io/instance=cert-manager',
    );
    assert.equal(made.code, 0, made.stderr);
    await waitForState(model, 'cert_manager', 'externally_installed', 10_000);
    assert.equal((await kubectl('delete', 'pod', '-n', NS, 'external-cert-manager', '--wait=false')).code, 0);
    await waitForState(model, 'cert_manager', 'installable', 10_000);
  });

  it('registry: the view answers at once (loading), then from the started model; a refused token shows as an error', async () => {
    let changes = 0;
    const registry = new ManagedAppsRegistry({
      kubeConfigFor: (_connection, agentId) =>
        kubeConfigForProxy({
          k8sProxyUrl: pair.k8sProxyUrl,
          agentId,
          token: agentId === 'bad' ? 'wrong-token' : pair.userToken,
          caPem: readFileSync(pair.caFile, 'utf8'),
        }),
      onChange: () => changes++,
    });
    try {
      assert.deepEqual(registry.view('c1', String(pair.agentId)), { state: 'loading' });
      const model = await registry.model('c1', String(pair.agentId));
      const view = registry.view('c1', String(pair.agentId));
      assert.equal(view.state, 'ready');
      assert.deepEqual(
        view.state === 'ready' && view.apps.map((a) => [a.app, a.state]),
        model.apps().map((a) => [a.app, a.state]),
      );
      assert.ok(view.state === 'ready' && view.apps.some((a) => a.app === 'fluentd'));
      assert.equal(model, await registry.model('c1', String(pair.agentId)), 'one model per connection and agent');
      assert.ok(changes > 0);
      await assert.rejects(registry.model('c1', 'bad'), /CLUSTER_ERROR: listing gitlab-managed-apps: the cluster answered HTTP 401/);
      assert.equal(registry.view('c1', 'bad').state, 'error');
      await registry.retainConnections(new Set(['c2']));
      assert.deepEqual(
        registry.view('c1', String(pair.agentId)),
        { state: 'loading' },
        "a removed connection's model is stopped and forgotten",
      );
      await registry.model('c1', String(pair.agentId));
    } finally {
      await registry.dispose();
    }
  });

  it('shows an app outside the catalog from its helm pod (state and logs), but will not change it', async () => {
    const model = await newModel();
    const made = await kubectl(
      'run',
      'install-helm',
      '-n',
      NS,
      '--image=busybox',
      '--restart=Never',
      '--labels=gitlab.org/action=install,gitlab.org/application=helm',
      '--env=SIM_LINES=1',
      '--env=SIM_MESSAGE=tiller installing',
      '--env=SIM_DURATION_SECONDS=600',
    );
    assert.equal(made.code, 0, made.stderr);
    try {
      await waitForState(model, 'helm', 'installing', 10_000);
      assert.deepEqual(
        model.apps().find((a) => a.app === 'helm'),
        { app: 'helm', title: 'helm', state: 'installing', podName: 'install-helm', installedVersion: undefined },
      );
      assert.equal(model.logTarget('helm')?.pod, 'install-helm');
      await assert.rejects(model.install('helm'), /UNKNOWN_APP/);
    } finally {
      await kubectl('delete', 'pod', '-n', NS, 'install-helm', '--wait=false');
    }
  });

  it('refuses invalid values before touching the cluster', async () => {
    const model = await newModel();
    await assert.rejects(
      model.install('cert_manager', 'a: [1, 2'),
      (error: unknown) => error instanceof ManagedAppsError && error.code === 'VALUES_INVALID',
    );
    await assert.rejects(model.install('cert_manager', '- a\n- b\n'), /VALUES_INVALID: values must be a YAML mapping/);
    await assert.rejects(model.install('nope'), /UNKNOWN_APP: "nope" is not in the app catalog/);
    assert.equal(await podExists('install-cert-manager'), false);
  });

  it('commands (UI behind an interface): values re-edited until valid, live log opened, failure offers the logs', async () => {
    const model = await newModel();
    const edits: Array<{ text: string; problem?: string }> = [];
    const answers = ['- not\n- a mapping\n', 'installCRDs: true\nsimulate:\n  fail: true\n'];
    const liveLogs: LogTarget[] = [];
    let offered: { message: string; actions?: string[] } | undefined;
    let installing: Promise<LogTarget | undefined> | undefined;
    const shownLogs = new Promise<void>((resolve) => {
      const ui: ManagedAppsUi = {
        pickApp: async () => 'cert_manager',
        editValues: async (_app, text, problem) => {
          edits.push({ text, problem });
          return answers.shift();
        },
        confirm: async () => true,
        info: () => undefined,
        error: async (message, actions) => {
          offered = { message, actions };
          return actions?.[0];
        },
        openLiveLog: (target) => {
          liveLogs.push(target);
          if (liveLogs.length === 2) resolve();
        },
        openSavedLog: async () => undefined,
      };
      installing = new ManagedAppsActions(model, bundledCatalog(), ui).install();
    });
    assert.equal((await installing)?.pod, 'install-cert-manager');
    await shownLogs;
    assert.match(edits[0]?.text ?? '', /installCRDs: true/, 'editing starts from the catalog defaults');
    assert.match(edits[1]?.problem ?? '', /VALUES_INVALID: values must be a YAML mapping/);
    assert.equal(edits[1]?.text, '- not\n- a mapping\n', 'the refused text is offered again for fixing');
    assert.match(offered?.message ?? '', /cert_manager: errored\. The helm pod is kept for its logs\./);
    assert.deepEqual(offered?.actions, ['Show Logs']);
    assert.deepEqual(liveLogs, [
      { namespace: NS, pod: 'install-cert-manager', container: 'helm' },
      { namespace: NS, pod: 'install-cert-manager', container: 'helm' },
    ]);
  });

  it('commands: a cancelled values edit installs nothing; uninstall of an installable app is not offered', async () => {
    const model = await newModel();
    let picked: string[] = [];
    const ui: ManagedAppsUi = {
      pickApp: async (apps) => {
        picked = apps.map((a) => a.app);
        return undefined;
      },
      editValues: async () => undefined,
      confirm: async () => true,
      info: () => undefined,
      error: async () => undefined,
      openLiveLog: () => assert.fail('nothing was started'),
      openSavedLog: async () => undefined,
    };
    const actions = new ManagedAppsActions(model, bundledCatalog(), ui);
    assert.equal(await actions.install('prometheus'), undefined);
    assert.equal(await actions.uninstall(), undefined);
    assert.ok(!picked.includes('crossplane'), `uninstall offered: ${picked.join(', ')}`);
    assert.ok(picked.includes('prometheus'));
  });
});
