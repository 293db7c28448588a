// The config is read as the reference reads it (YAML 1.1 into protobuf JSON, then the proto's
// field rules): what it accepts is accepted, what it refuses is refused. Each case names the
// reference behaviour it pins down.
import assert from 'node:assert/strict';
import { applyEdits, parseAgentConfig, type ParseResult } from '../../../agent/shared/agent_config';
import { diagnoseWithSimpleReader, diagnoseWithYamlPackage } from '../../../agent/shared/agent_config/parse';
import { isCronSchedule } from '../../../agent/shared/agent_config/cron';

const errors = (result: ParseResult) => result.diagnostics.filter((diagnostic) => diagnostic.severity === 'error');
const warnings = (result: ParseResult) => result.diagnostics.filter((diagnostic) => diagnostic.severity === 'warning');

function accepted(text: string): ParseResult {
  const result = parseAgentConfig(text);
  assert.deepEqual(
    errors(result).map((diagnostic) => diagnostic.message),
    [],
    text,
  );
  assert.ok(result.config, text);
  return result;
}

function refused(text: string, message: RegExp): ParseResult {
  const result = parseAgentConfig(text);
  assert.equal(result.config, undefined, text);
  assert.ok(
    errors(result).some((diagnostic) => message.test(diagnostic.message)),
    `${text}\n${errors(result)
      .map((diagnostic) => diagnostic.message)
      .join('\n')}`,
  );
  return result;
}

describe('agent config: read as the reference reads it', () => {
  it('accepts gitops of any shape with a warning that it has no effect, and still checks the rest', () => {
    const text =
      'gitops:\n  manifest_projects:\n    - id: a/b\n      charts: whatever\n  anything: [1, 2]\nci_access:\n  projects:\n    - id: a/b\n';
    const result = accepted(text);
    assert.deepEqual(
      warnings(result).map((diagnostic) => diagnostic.code),
      ['removed-key'],
    );
    assert.equal('gitops' in result.config!, false, 'gitops is not passed on');
    assert.deepEqual(result.config!.ci_access, { projects: [{ id: 'a/b' }] });
    refused('gitops:\n  manifest_projects: []\nci_access:\n  projects:\n    - idd: a/b\n', /Unknown key "idd".*Did you mean "id"/);
    const fix = warnings(result)[0]!.fix!;
    assert.deepEqual(parseAgentConfig(applyEdits(text, fix.edits)).diagnostics, []);
  });

  it('takes user_access without access_as, as the agent (the reference default)', () => {
    const result = accepted('user_access:\n  projects:\n    - id: a/b\n');
    assert.deepEqual(result.config!.user_access, { projects: [{ id: 'a/b' }], access_as: { agent: {} } });
    assert.deepEqual(accepted('user_access:\n  access_as:\n    user: {}\n').config!.user_access?.access_as, { user: {} });
  });

  it('reads YAML 1.1 booleans: yes/no/on/off/y/n are booleans, so they fit boolean fields and not strings', () => {
    for (const [word, value] of [
      ['yes', true],
      ['On', true],
      ['y', true],
      ['NO', false],
      ['off', false],
      ['n', false],
    ] as const) {
      const result = accepted(`remote_development:\n  enabled: ${word}\n  dns_zone: ws.example.dev\n`);
      assert.equal(result.config!.remote_development?.enabled, value, word);
    }
    const result = refused(
      'ci_access:\n  projects:\n    - id: a/b\n      default_namespace: no\n',
      /must be a string, not boolean false \(YAML 1\.1 reads no as false\)/,
    );
    const fixed = applyEdits('ci_access:\n  projects:\n    - id: a/b\n      default_namespace: no\n', errors(result)[0]!.fix!.edits);
    assert.equal(fixed, 'ci_access:\n  projects:\n    - id: a/b\n      default_namespace: "no"\n');
    // go-yaml v2 keeps timestamp-like scalars as strings: a string field takes them.
    accepted('ci_access:\n  projects:\n    - id: a/b\n      environments: [2024-01-01, 12:30]\n');
  });

  it('takes enum values by number, and passes names on', () => {
    const result = accepted('observability:\n  logging:\n    level: 1\n    grpc_level: 3\n');
    assert.deepEqual(result.config!.observability?.logging, { level: 'debug', grpc_level: 'error' });
    refused('observability:\n  logging:\n    level: 7\n', /is not one of info, debug, warn, error \(or their numbers 0, 1, 2, 3\)/);
    refused('observability:\n  logging:\n    level: INFO\n', /Did you mean "info"/);
  });

  it('reads the first document of a stream and warns that the others are ignored', () => {
    const result = accepted('ci_access:\n  groups:\n    - id: g\n---\nnot: [valid, config\n');
    assert.deepEqual(
      warnings(result).map((diagnostic) => [diagnostic.code, diagnostic.range.start.line]),
      [['multiple-documents', 3]],
    );
    assert.deepEqual(result.config, { ci_access: { groups: [{ id: 'g' }] } });
    accepted('---\nci_access: {}\n'); // one document with a start marker
  });

  it('treats a key without a value as unset, as protobuf JSON does', () => {
    assert.deepEqual(accepted('ci_access:\nuser_access:\nobservability:\n  logging:\n').config, { observability: {} });
    refused('user_access:\n  access_as:\n    agent:\n', /user_access\.access_as\.agent has no value, which counts as not set/);
    refused('ci_access:\n  projects:\n    - id:\n', /missing the required key "id"/);
    refused('ci_access:\n  projects:\n    -\n', /must be a mapping/); // a null list item is an error
    refused('nope:\n', /Unknown key "nope"/); // an unknown key stays unknown without a value
  });

  it('keeps the last of duplicate keys with a warning, as go-yaml v2 does', () => {
    const result = accepted('observability:\n  logging:\n    level: info\n    level: debug\n');
    assert.equal(result.config!.observability?.logging?.level, 'debug');
    assert.deepEqual(
      warnings(result).map((diagnostic) => diagnostic.code),
      ['duplicate-key'],
    );
  });

  it('has the reference rules for empty strings', () => {
    accepted(
      'ci_access:\n  projects:\n    - id: a/b\n      default_namespace: ""\n      access_as:\n        impersonate:\n          username: u\n          uid: ""\n',
    );
    refused('ci_access:\n  groups:\n    - id: ""\n', /id must not be empty/);
    refused('user_access:\n  groups:\n    - id: ""\n', /id must not be empty/);
    refused('ci_access:\n  projects:\n    - id: a/b\n      environments: [""]\n', /must not be empty/);
    refused(
      'ci_access:\n  projects:\n    - id: a/b\n      access_as:\n        impersonate:\n          username: ""\n',
      /username must not be empty/,
    );
    refused(
      'ci_access:\n  projects:\n    - id: a/b\n      access_as:\n        impersonate:\n          username: u\n          groups: [""]\n',
      /must not be empty/,
    );
  });

  it('puts no pattern on ids and namespaces (the reference has none); a namespace the cluster refuses warns', () => {
    accepted('ci_access:\n  groups:\n    - id: "gcp-solutions/hcls/*"\n    - id: "group/with space/"\n');
    const result = accepted('ci_access:\n  projects:\n    - id: a/b\n      default_namespace: My_Namespace\n');
    assert.deepEqual(
      warnings(result).map((diagnostic) => diagnostic.code),
      ['doubtful-value'],
    );
    accepted('remote_development:\n  gitlab_workspaces_proxy:\n    namespace: Not_A_Namespace\n');
  });

  it('reads durations in protobuf form (seconds with s), more than zero, and offers the seconds for a Go duration', () => {
    accepted('remote_development:\n  partial_sync_interval: 10s\n  full_sync_interval: 3600.5s\n');
    const text = 'remote_development:\n  full_sync_interval: 1h30m\n';
    const result = refused(text, /full_sync_interval: "1h30m" must be a number of seconds with the unit s/);
    assert.equal(applyEdits(text, errors(result)[0]!.fix!.edits), 'remote_development:\n  full_sync_interval: 5400s\n');
    refused('remote_development:\n  partial_sync_interval: 0s\n', /more than zero/);
    refused('remote_development:\n  partial_sync_interval: 10\n', /must be a string, not number 10/);
  });

  it('requires container_scanning.cadence and takes any cron form, warning about one no scheduler reads', () => {
    refused('container_scanning:\n  vulnerability_report:\n    namespaces: [default]\n', /missing the required key "cadence"/);
    refused('container_scanning:\n  cadence: ""\n', /cadence must not be empty/);
    for (const cadence of ['@daily', '@every 6h', '0 2 * * *', '*/15 0-6 * jan-mar mon-fri', 'CRON_TZ=Europe/Paris 0 3 * * 1']) {
      assert.deepEqual(warnings(accepted(`container_scanning:\n  cadence: "${cadence}"\n`)), [], cadence);
    }
    const result = accepted('container_scanning:\n  cadence: every night\n');
    assert.match(warnings(result)[0]!.message, /is not a schedule agentk can run/);
  });

  it('takes any flux.webhook_receiver_url string, warning when it is no http(s) URL', () => {
    assert.deepEqual(warnings(accepted('flux:\n  webhook_receiver_url: http://receiver.flux-system.svc/hook/1\n')), []);
    assert.match(warnings(accepted('flux:\n  webhook_receiver_url: receiver.flux-system\n'))[0]!.message, /not an http/);
  });

  it('has the remote_development rules of the reference: dns_zone not required by kas, with a warning', () => {
    const result = accepted('remote_development:\n  enabled: true\n');
    assert.match(warnings(result)[0]!.message, /without dns_zone/);
    accepted('remote_development:\n  enabled: true\n  dns_zone: "<workspaces.example.dev>"\n');
    accepted(
      'remote_development:\n  enabled: true\n  dns_zone: ws.example.dev\n  workspaces_quota: -1\n  labels: {team: a}\n  image_pull_secrets:\n    - name: s\n      namespace: ns\n',
    );
  });

  it('wants resource quantities as strings, offering to quote a number', () => {
    const text = 'container_scanning:\n  cadence: "@daily"\n  resource_requirements:\n    limits:\n      cpu: 1\n      memory: 512Mi\n';
    const result = refused(text, /cpu must be a string, not number 1/);
    assert.match(applyEdits(text, errors(result)[0]!.fix!.edits), /cpu: "1"/);
    assert.match(warnings(accepted(text.replace('cpu: 1', 'cpu: lots')))[0]!.message, /not a Kubernetes quantity/);
  });

  it('refuses an empty value in impersonate extra', () => {
    const base =
      'ci_access:\n  projects:\n    - id: a/b\n      access_as:\n        impersonate:\n          username: u\n          extra:\n';
    accepted(`${base}            - key: k\n              val: [v]\n`);
    refused(`${base}            - key: k\n              val: [""]\n`, /must not be empty/);
    refused(`${base}            - key: k\n              val: []\n`, /at least 1/);
    refused(`${base}            - key: ""\n              val: [v]\n`, /key must not be empty/);
  });

  it('gives the same answer on the fast reader and the yaml package for YAML 1.1 scalars', () => {
    const text = 'remote_development:\n  enabled: yes\n  dns_zone: ws.example.dev\nobservability:\n  logging:\n    level: 2\n';
    const fast = diagnoseWithSimpleReader(text);
    const full = diagnoseWithYamlPackage(text);
    assert.deepEqual([fast?.data, fast?.diagnostics], [full.data, full.diagnostics]);
    assert.equal(diagnoseWithSimpleReader(text)?.data?.remote_development !== undefined, true);
  });

  it('recognises the cron forms a standard cron parser takes', () => {
    for (const good of ['0 0 * * *', '@hourly', '@annually', '5,10 */2 1-15 * 0', '0 0 ? * SUN', '@every 1m30s', 'TZ=UTC 0 0 * * *'])
      assert.ok(isCronSchedule(good), good);
    for (const bad of [
      '0 0 * *',
      '60 0 * * *',
      '0 24 * * *',
      '0 0 0 * *',
      '* * * 13 *',
      '0 0 * * 7',
      '@often',
      '@every',
      '@every 0s',
      '5-1 * * * *',
      '*/0 * * * *',
    ]) {
      assert.equal(isCronSchedule(bad), false, bad);
    }
  });
});
