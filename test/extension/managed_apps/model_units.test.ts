// The vscode-free pieces of managed apps without a cluster: state derivation, catalog and
// values validation, the helm pod manifest, and the dev cluster's simulated helm.
import assert from 'node:assert/strict';
import { configMapVolumeFiles, runHelm } from '../../../agent/devtools/devcluster/programs/helm_sim';
import type { ProgramAction } from '../../../agent/devtools/devcluster/programs/program_action';
import { bundledCatalog, catalogApp, parseCatalog } from '../../../extension/src/managed_apps/catalog';
import { helmPod, helmScript, valuesConfigMap } from '../../../extension/src/managed_apps/manifests';
import { deriveAppState, isHelmPodActive, type AppFacts, type PodPhase } from '../../../extension/src/managed_apps/state';
import { parseHelmValues, valuesDocumentName } from '../../../extension/src/managed_apps/values';
import type { AppAction } from '../../../extension/src/managed_apps/names';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const MINUTE = 60_000;

function withPod(action: AppAction, phase: PodPhase | undefined, ageMs = 0, release?: AppFacts['release']): AppFacts {
  return { pod: { action, phase, createdAt: NOW - ageMs }, release, externallyInstalled: false };
}

describe('managed apps: state derivation', () => {
  it('maps install pod phases to scheduled, installing, installed, errored', () => {
    assert.equal(deriveAppState(withPod('install', 'Pending'), NOW), 'scheduled');
    assert.equal(deriveAppState(withPod('install', undefined), NOW), 'scheduled');
    assert.equal(deriveAppState(withPod('install', 'Running'), NOW), 'installing');
    assert.equal(deriveAppState(withPod('install', 'Succeeded'), NOW), 'installed');
    assert.equal(deriveAppState(withPod('install', 'Failed'), NOW), 'errored');
  });

  it('maps update and uninstall pods to their own states', () => {
    assert.equal(deriveAppState(withPod('update', 'Running', 0, 'installed'), NOW), 'updating');
    assert.equal(deriveAppState(withPod('update', 'Succeeded', 0, 'installed'), NOW), 'updated');
    assert.equal(deriveAppState(withPod('update', 'Failed', 0, 'installed'), NOW), 'update_errored');
    assert.equal(deriveAppState(withPod('uninstall', 'Pending', 0, 'installed'), NOW), 'uninstalling');
    assert.equal(deriveAppState(withPod('uninstall', 'Succeeded', 0, 'installed'), NOW), 'installable');
    assert.equal(deriveAppState(withPod('uninstall', 'Failed', 0, 'installed'), NOW), 'uninstall_errored');
  });

  it('fails a helm pod still unfinished after 20 minutes, and only then', () => {
    assert.equal(deriveAppState(withPod('install', 'Running', 19 * MINUTE), NOW), 'installing');
    assert.equal(deriveAppState(withPod('install', 'Running', 20 * MINUTE), NOW), 'errored');
    assert.equal(deriveAppState(withPod('update', 'Pending', 21 * MINUTE), NOW), 'update_errored');
    assert.equal(deriveAppState(withPod('uninstall', 'Running', 30 * MINUTE), NOW), 'uninstall_errored');
    assert.equal(deriveAppState(withPod('install', 'Succeeded', 30 * MINUTE), NOW), 'installed', 'a finished pod is judged by its phase');
    assert.equal(isHelmPodActive({ action: 'install', phase: 'Running', createdAt: NOW - 20 * MINUTE }, NOW), false);
    assert.equal(isHelmPodActive({ action: 'install', phase: 'Running', createdAt: NOW - MINUTE }, NOW), true);
  });

  it('without a helm pod: the release record, else pods of the release made elsewhere, else installable', () => {
    assert.equal(deriveAppState({ pod: undefined, release: 'installed', externallyInstalled: false }, NOW), 'installed');
    assert.equal(deriveAppState({ pod: undefined, release: 'updated', externallyInstalled: true }, NOW), 'updated');
    assert.equal(deriveAppState({ pod: undefined, release: undefined, externallyInstalled: true }, NOW), 'externally_installed');
    assert.equal(deriveAppState({ pod: undefined, release: undefined, externallyInstalled: false }, NOW), 'installable');
  });
});

describe('managed apps: catalog', () => {
  const good = {
    apps: {
      demo: {
        title: 'Demo',
        description: 'd',
        chart: 'repo/demo',
        repository: { name: 'repo', url: 'https://charts.example.com' },
        version: '1.2.3',
        values: 'a: 1\n',
      },
    },
  };
  const withApp = (changes: Record<string, unknown>) => ({ apps: { demo: { ...good.apps.demo, ...changes } } });

  it('ships the required apps, each with parseable default values', () => {
    const catalog = bundledCatalog();
    for (const app of ['ingress', 'cert_manager', 'prometheus', 'runner', 'crossplane', 'elastic_stack', 'fluentd']) {
      const entry = catalogApp(catalog, app);
      assert.ok(entry.chart && entry.repository.url && entry.version && entry.description, app);
      assert.equal(typeof parseHelmValues(entry.values), 'object');
    }
  });

  it('accepts a valid catalog', () => {
    assert.equal(parseCatalog(good).get('demo')?.chart, 'repo/demo');
  });

  it('rejects invalid entries with the path of each problem', () => {
    assert.throws(() => parseCatalog({}), /CATALOG_INVALID: .*\/ must have required property 'apps'/);
    assert.throws(() => parseCatalog(withApp({ version: 'latest' })), /\/apps\/demo\/version must match pattern/);
    assert.throws(
      () => parseCatalog(withApp({ repository: { name: 'repo', url: 'http://insecure.example.com' } })),
      /\/apps\/demo\/repository\/url must match pattern/,
    );
    assert.throws(() => parseCatalog(withApp({ extra: 1 })), /must NOT have additional properties \("extra"\)/);
    assert.throws(
      () => parseCatalog({ apps: { 'Bad Name': good.apps.demo } }),
      /property name must be valid \("Bad Name"\)|must match pattern/,
    );
    assert.throws(() => parseCatalog(withApp({ chart: 'other/demo' })), /\/apps\/demo\/chart must start with its repository name "repo\/"/);
    assert.throws(() => parseCatalog(withApp({ values: '- a\n' })), /\/apps\/demo\/values must be a YAML mapping/);
  });

  it('names the known apps when asked for an unknown one', () => {
    assert.throws(() => catalogApp(parseCatalog(good), 'nope'), /UNKNOWN_APP: "nope" is not in the app catalog \(known: demo\)/);
  });
});

describe('managed apps: values', () => {
  it('parses a mapping and treats an empty text as no values', () => {
    assert.deepEqual(parseHelmValues('replicas: 2\nnested:\n  a: true\n'), { replicas: 2, nested: { a: true } });
    assert.deepEqual(parseHelmValues('# only a comment\n'), {});
  });

  it('rejects YAML errors (with the line) and non-mappings', () => {
    assert.throws(() => parseHelmValues('a: 1\nb: [1, 2\n'), /VALUES_INVALID: values are not valid YAML \(line \d\)/);
    assert.throws(() => parseHelmValues('- a\n- b\n'), /VALUES_INVALID: values must be a YAML mapping .*not a list/);
    assert.throws(() => parseHelmValues('just text'), /not a string/);
  });

  it('names the values document after the app (release name), as a .yaml file', () => {
    assert.equal(valuesDocumentName('ingress'), 'ingress-values.yaml');
    assert.equal(valuesDocumentName('cert_manager'), 'cert-manager-values.yaml');
  });
});

describe('managed apps: helm pod manifest', () => {
  const certManager = catalogApp(bundledCatalog(), 'cert_manager');

  it('builds install-<app> with the labels, container, restart policy and values mount of the reference', () => {
    const pod = helmPod(certManager, 'install') as {
      metadata: { name: string; namespace: string; labels: Record<string, string> };
      spec: { restartPolicy: string; containers: Array<{ name: string; command: string[]; volumeMounts: unknown[] }>; volumes: unknown[] };
    };
    assert.equal(pod.metadata.name, 'install-cert-manager');
    assert.equal(pod.metadata.namespace, 'gitlab-managed-apps');
    assert.deepEqual(pod.metadata.labels, { 'gitlab.org/action': 'install', 'gitlab.org/application': 'cert_manager' });
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.equal(pod.spec.containers[0]?.name, 'helm');
    assert.deepEqual(pod.spec.containers[0]?.command.slice(0, 2), ['sh', '-c']);
    assert.deepEqual(pod.spec.containers[0]?.volumeMounts, [{ name: 'configuration-volume', mountPath: '/data/helm/cert_manager/config' }]);
    assert.deepEqual(pod.spec.volumes, [
      {
        name: 'configuration-volume',
        configMap: { name: 'values-content-configuration-cert-manager', items: [{ key: 'values.yaml', path: 'values.yaml' }] },
      },
    ]);
  });

  it('scripts helm repo add && helm upgrade --install --atomic, and helm uninstall', () => {
    assert.equal(
      helmScript(certManager, 'install'),
      'helm repo add jetstack https://charts.jetstack.io && helm repo update && helm upgrade --install cert-manager jetstack/cert-manager' +
        ' --atomic --version v1.14.5 -f /data/helm/cert_manager/config/values.yaml --namespace gitlab-managed-apps',
    );
    assert.equal(helmScript(certManager, 'uninstall'), 'helm uninstall cert-manager --namespace gitlab-managed-apps');
    assert.equal((helmPod(certManager, 'uninstall') as { metadata: { name: string } }).metadata.name, 'uninstall-cert-manager');
  });

  it('stores values, chart, repository and version in the values ConfigMap', () => {
    const map = valuesConfigMap(certManager, 'installCRDs: true\n');
    assert.equal(map.metadata.name, 'values-content-configuration-cert-manager');
    assert.deepEqual(map.data, {
      'values.yaml': 'installCRDs: true\n',
      chart: 'jetstack/cert-manager',
      repository: 'jetstack',
      'repository-url': 'https://charts.jetstack.io',
      version: 'v1.14.5',
    });
  });
});

describe('dev cluster: simulated helm', () => {
  const write = (stream: 'stdout' | 'stderr', text: string): ProgramAction[] => [{ kind: 'write', stream, text }];

  function run(
    args: string[],
    env: Record<string, string> = {},
    files: Record<string, string> = {},
  ): { code: number; stdout: string; stderr: string; sleeps: number } {
    const program = runHelm(args, { env: { SIM_HELM_STEP_MS: '10', ...env }, files, now: () => new Date('2026-01-01T12:00:00Z') }, write);
    const result = { code: 0, stdout: '', stderr: '', sleeps: 0 };
    for (let step = program.next(); ; step = program.next()) {
      if (step.done) return { ...result, code: step.value };
      if (step.value.kind === 'write') result[step.value.stream] += step.value.text;
      if (step.value.kind === 'sleep') result.sleeps++;
    }
  }

  const VALUES = '/data/helm/x/config/values.yaml';
  const install = [
    'upgrade',
    '--install',
    'x',
    'repo/x',
    '--atomic',
    '--version',
    '1.0.0',
    '-f',
    VALUES,
    '--namespace',
    'gitlab-managed-apps',
  ];

  it('prints a helm-like install, with pauses between the lines', () => {
    const result = run(install, {}, { [VALUES]: 'a: 1\n' });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Release "x" does not exist\. Installing it now\.\n/);
    assert.match(
      result.stdout,
      /NAME: x\nLAST DEPLOYED: Thu, 01 Jan 2026 12:00:00 UTC\nNAMESPACE: gitlab-managed-apps\nSTATUS: deployed\nREVISION: 1\n/,
    );
    assert.ok(result.sleeps >= 2);
  });

  it('fails on demand: simulate.fail in the values file, or SIM_HELM_FAIL=1', () => {
    const byValues = run(install, {}, { [VALUES]: 'simulate:\n  fail: true\n' });
    assert.equal(byValues.code, 1);
    assert.match(byValues.stderr, /Error: release x failed, and has been uninstalled due to atomic being set/);
    assert.equal(run(install, { SIM_HELM_FAIL: '1' }, { [VALUES]: '' }).code, 1);
    assert.equal(run(['uninstall', 'x'], { SIM_HELM_FAIL: '1' }).code, 1);
  });

  it('reports a missing or unparseable values file as helm does', () => {
    assert.match(run(install).stderr, /Error: open \/data\/helm\/x\/config\/values\.yaml: no such file or directory/);
    assert.match(run(install, {}, { [VALUES]: '- a\n' }).stderr, /cannot unmarshal/);
  });

  it('adds repositories, uninstalls, and refuses unknown commands', () => {
    assert.equal(run(['repo', 'add', 'jetstack', 'https://charts.jetstack.io']).stdout, '"jetstack" has been added to your repositories\n');
    assert.equal(run(['uninstall', 'x', '--namespace', 'gitlab-managed-apps']).stdout, 'release "x" uninstalled\n');
    const unknown = run(['frobnicate']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });

  it('mounts ConfigMap volumes as files at the container mount path', () => {
    const spec = {
      volumes: [
        { name: 'cfg', configMap: { name: 'values', items: [{ key: 'values.yaml', path: 'values.yaml' }] } },
        { name: 'all', configMap: { name: 'other' } },
      ],
      containers: [
        {
          name: 'helm',
          volumeMounts: [
            { name: 'cfg', mountPath: '/data/helm/x/config' },
            { name: 'all', mountPath: '/etc/other/' },
          ],
        },
      ],
    };
    const maps: Record<string, Record<string, string>> = { values: { 'values.yaml': 'a: 1\n', chart: 'ignored' }, other: { k: 'v' } };
    assert.deepEqual(
      configMapVolumeFiles(spec, 'helm', (name) => maps[name]),
      { '/data/helm/x/config/values.yaml': 'a: 1\n', '/etc/other/k': 'v' },
    );
    assert.deepEqual(
      configMapVolumeFiles(spec, 'sidecar', (name) => maps[name]),
      {},
    );
    assert.deepEqual(
      configMapVolumeFiles(spec, 'helm', () => undefined),
      {},
    );
  });
});
