// The dev cluster's HTTP API as any client sees it: Status errors, concurrency, watches,
// selectors, patches, tables, auth. Raw HTTPS requests, so each check is about the wire.
import assert from 'node:assert/strict';
import https from 'node:https';
import type { MemoryObjectStore } from '../../../agent/devtools/devcluster/store/store';
import { request, startTestCluster, type TestCluster } from '../../support/devcluster';

interface Status {
  kind: string;
  code: number;
  reason: string;
  message: string;
  details?: { causes?: Array<{ field?: string }> };
}

const podManifest = (name: string, labels: Record<string, string> = {}) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'main', image: 'busybox', env: [{ name: 'SIM_RUN_SECONDS', value: '600' }] }] },
  });

function assertStatus(response: { status: number; json(): unknown }, code: number, reason: string): Status {
  assert.equal(response.status, code);
  const status = response.json() as Status;
  assert.equal(status.kind, 'Status');
  assert.equal(status.code, code);
  assert.equal(status.reason, reason);
  return status;
}

/** Opens a watch and collects its events until closed; resolves `opened` with the response. */
function openWatch(t: TestCluster, pathname: string, headers: Record<string, string> = {}) {
  const events: Array<{ type: string; object: Record<string, unknown> }> = [];
  let ended = false;
  let buffer = '';
  const req = https.request(new URL(pathname, t.cluster.url), {
    headers: { Authorization: `Bearer ${t.cluster.adminToken}`, ...headers },
    ca: t.cluster.caPem,
    agent: false,
  });
  const opened = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as (typeof events)[number]);
      });
      res.on('end', () => (ended = true));
      res.on('close', () => (ended = true));
      res.on('error', () => (ended = true));
      resolve();
    });
    req.on('error', reject);
  });
  req.end();
  return { events, opened, isEnded: () => ended, abort: () => req.destroy() };
}

async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('devcluster API: statuses, concurrency, watches, selectors, patches', function () {
  let t: TestCluster;

  before(async () => {
    t = await startTestCluster();
  });
  after(async () => {
    await t?.stop();
  });

  it('serves discovery and health without auth for /version and /healthz, and 401 elsewhere without a token', async () => {
    assert.equal((await request(t.cluster, 'GET', '/healthz', { token: null })).body, 'ok');
    assert.equal(((await request(t.cluster, 'GET', '/version', { token: null })).json() as { major: string }).major, '1');
    assertStatus(await request(t.cluster, 'GET', '/api/v1/pods', { token: null }), 401, 'Unauthorized');
    assertStatus(await request(t.cluster, 'GET', '/api/v1/pods', { token: 'wrong' }), 401, 'Unauthorized');
    const core = (await request(t.cluster, 'GET', '/api/v1')).json() as { resources: Array<{ name: string; shortNames?: string[] }> };
    assert.deepEqual(core.resources.find((r) => r.name === 'pods')?.shortNames, ['po']);
    assert.ok(core.resources.some((r) => r.name === 'pods/log'));
    const groups = (await request(t.cluster, 'GET', '/apis')).json() as { groups: Array<{ name: string }> };
    assert.deepEqual(groups.groups.map((g) => g.name).sort(), [
      'apiextensions.k8s.io',
      'apps',
      'authorization.k8s.io',
      'batch',
      'coordination.k8s.io',
      'discovery.k8s.io',
      'networking.k8s.io',
      'policy',
      'rbac.authorization.k8s.io',
    ]);
  });

  it('serves aggregated discovery (apidiscovery.k8s.io/v2) when the client asks for it', async () => {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
    const response = await request(t.cluster, 'GET', '/apis', { headers: { Accept: accept } });
    assert.match(String(response.headers['content-type']), /as=APIGroupDiscoveryList/);
    const list = response.json() as {
      kind: string;
      items: Array<{ metadata: { name: string }; versions: Array<{ resources: Array<{ resource: string; scope: string }> }> }>;
    };
    assert.equal(list.kind, 'APIGroupDiscoveryList');
    const rbac = list.items.find((g) => g.metadata.name === 'rbac.authorization.k8s.io');
    assert.deepEqual(rbac?.versions[0]?.resources.map((r) => `${r.resource}:${r.scope}`).sort(), [
      'clusterrolebindings:Cluster',
      'clusterroles:Cluster',
      'rolebindings:Namespaced',
      'roles:Namespaced',
    ]);
    const legacy = (await request(t.cluster, 'GET', '/api')).json() as { kind: string };
    assert.equal(legacy.kind, 'APIVersions');
  });

  it('answers 404 NotFound for unknown resources and missing objects', async () => {
    assertStatus(await request(t.cluster, 'GET', '/api/v1/namespaces/default/widgets'), 404, 'NotFound');
    assertStatus(await request(t.cluster, 'GET', '/apis/example.com/v1/things'), 404, 'NotFound');
    const missing = assertStatus(await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods/nope'), 404, 'NotFound');
    assert.equal(missing.message, 'pods "nope" not found');
  });

  it('answers 400 for malformed JSON and a kind that does not match the endpoint, and keeps serving', async () => {
    assertStatus(
      await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body: '{"apiVersion": "v1", kind' }),
      400,
      'BadRequest',
    );
    const wrongKind = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } });
    assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body: wrongKind }), 400, 'BadRequest');
    assert.equal((await request(t.cluster, 'GET', '/healthz')).status, 200);
  });

  it('answers odd bodies of every shape, on every write verb and media type, without a server error', async () => {
    await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'target' } }),
    });
    const deep = '{"a":' + '['.repeat(2000) + ']'.repeat(2000) + '}';
    const bodies = [
      'null',
      '[]',
      '5',
      '"x"',
      '{"metadata":null}',
      '{"metadata":[]}',
      '{"metadata":{"name":null}}',
      '{',
      deep,
      '{"kind":5}',
      'k8s\u0000garbage',
    ];
    const paths = [
      '/api/v1/namespaces/default/configmaps',
      '/api/v1/namespaces/default/configmaps/target',
      '/api/v1/namespaces/%ZZ/pods',
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    ];
    const mediaTypes = [
      'application/json',
      'application/merge-patch+json',
      'application/json-patch+json',
      'application/strategic-merge-patch+json',
      'application/apply-patch+yaml',
      'application/vnd.kubernetes.protobuf',
    ];
    for (const path of paths) {
      for (const method of ['POST', 'PUT', 'PATCH']) {
        for (const body of bodies) {
          for (const type of mediaTypes) {
            const response = await request(t.cluster, method, `${path}?fieldManager=test`, { body, headers: { 'Content-Type': type } });
            // Some are valid after all (an empty JSON patch); none may fail on the server's side.
            assert.ok(
              response.status < 500,
              `${method} ${path} (${type}) ${body.slice(0, 30)} answered ${response.status}: ${response.body.slice(0, 200)}`,
            );
            if (response.status >= 400) assert.equal((response.json() as Status).kind, 'Status');
          }
        }
      }
    }
    assert.equal((await request(t.cluster, 'GET', '/api/v1/namespaces/default/configmaps/target')).status, 200);
  });

  it('answers 422 Invalid with causes for names that are not DNS-1123', async () => {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Not_Valid' } });
    const status = assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body }), 422, 'Invalid');
    assert.match(status.message, /RFC 1123/);
    assert.equal(status.details?.causes?.[0]?.field, 'metadata.name');
    const badLabels = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'labels', labels: 'not-a-map' } });
    // Metadata of the wrong shape cannot be decoded at all: 400, as from a real API server.
    assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body: badLabels }), 400, 'BadRequest');
    const numericName = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 42 } });
    assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body: numericName }), 400, 'BadRequest');
    assert.equal((await request(t.cluster, 'GET', '/api/v1/configmaps?labelSelector=x')).status, 200, 'lists still work');
  });

  it('answers 413 for a body over 3 MiB and 404 for a create in a missing namespace', async () => {
    const big = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'big' },
      data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) },
    });
    assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body: big }), 413, 'RequestEntityTooLarge');
    const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } });
    assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/ghost/configmaps', { body: cm }), 404, 'NotFound');
    assert.equal((await request(t.cluster, 'GET', '/api/v1/namespaces/default/configmaps')).status, 200);
  });

  it('answers 409 Conflict for an update with a stale resourceVersion and AlreadyExists for a duplicate', async () => {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'occ' }, data: { v: '1' } });
    const created = (await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body })).json() as {
      metadata: { resourceVersion: string };
    };
    assertStatus(await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', { body }), 409, 'AlreadyExists');
    const update = (v: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'occ', resourceVersion: created.metadata.resourceVersion },
        data: { v },
      });
    assert.equal((await request(t.cluster, 'PUT', '/api/v1/namespaces/default/configmaps/occ', { body: update('2') })).status, 200);
    assertStatus(await request(t.cluster, 'PUT', '/api/v1/namespaces/default/configmaps/occ', { body: update('3') }), 409, 'Conflict');
  });

  it('filters lists by label and field selectors', async () => {
    for (const [name, tier] of [
      ['sel-a', 'front'],
      ['sel-b', 'back'],
      ['sel-c', 'front'],
    ]) {
      await request(t.cluster, 'POST', '/api/v1/namespaces/default/pods', {
        body: podManifest(name!, { suite: 'selectors', tier: tier! }),
      });
    }
    const names = async (query: string) =>
      (
        (await request(t.cluster, 'GET', `/api/v1/namespaces/default/pods?${query}`)).json() as {
          items: Array<{ metadata: { name: string } }>;
        }
      ).items.map((p) => p.metadata.name);
    assert.deepEqual(await names('labelSelector=suite%3Dselectors,tier%3Dfront'), ['sel-a', 'sel-c']);
    assert.deepEqual(await names('labelSelector=suite%3Dselectors,tier%20notin%20(front)'), ['sel-b']);
    assert.deepEqual(await names('labelSelector=suite,tier!%3Dfront'), ['sel-b']);
    assert.deepEqual(await names('fieldSelector=metadata.name%3Dsel-c'), ['sel-c']);
    assertStatus(await request(t.cluster, 'GET', '/api/v1/pods?labelSelector=a%3D(b'), 400, 'BadRequest');
  });

  it('pages lists with limit and continue, each object exactly once', async () => {
    for (const name of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) {
      await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', {
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { paged: 'yes' } } }),
      });
    }
    const seen: string[] = [];
    let token = '';
    for (let pages = 0; pages < 10; pages++) {
      const query = `labelSelector=paged&limit=2${token ? `&continue=${token}` : ''}`;
      const list = (await request(t.cluster, 'GET', `/api/v1/namespaces/default/configmaps?${query}`)).json() as {
        metadata: { continue?: string };
        items: Array<{ metadata: { name: string } }>;
      };
      assert.ok(list.items.length <= 2);
      seen.push(...list.items.map((i) => i.metadata.name));
      if (!list.metadata.continue) break;
      token = list.metadata.continue;
    }
    assert.deepEqual(seen, ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']);
    assertStatus(await request(t.cluster, 'GET', '/api/v1/namespaces/default/configmaps?limit=2&continue=garbage'), 400, 'BadRequest');
  });

  it('patches with merge, JSON and strategic merge patches (containers merged by name)', async () => {
    await request(t.cluster, 'POST', '/api/v1/namespaces/default/pods', { body: podManifest('patched') });
    const path = '/api/v1/namespaces/default/pods/patched';
    const patch = (type: string, body: unknown) =>
      request(t.cluster, 'PATCH', path, { body: JSON.stringify(body), headers: { 'Content-Type': type } });
    assert.equal((await patch('application/merge-patch+json', { metadata: { labels: { a: '1' } } })).status, 200);
    assert.equal((await patch('application/json-patch+json', [{ op: 'add', path: '/metadata/labels/b', value: '2' }])).status, 200);
    const smp = await patch('application/strategic-merge-patch+json', { spec: { containers: [{ name: 'main', image: 'busybox:2' }] } });
    const pod = smp.json() as {
      metadata: { labels: Record<string, string> };
      spec: { containers: Array<{ name: string; image: string; env?: unknown[] }> };
    };
    assert.deepEqual(pod.metadata.labels, { a: '1', b: '2' });
    assert.equal(pod.spec.containers.length, 1);
    assert.equal(pod.spec.containers[0]!.image, 'busybox:2');
    assert.ok(pod.spec.containers[0]!.env, 'the strategic merge kept the container fields it did not name');
    assertStatus(await patch('application/json-patch+json', [{ op: 'remove', path: '/spec/nothing' }]), 400, 'BadRequest');
    assertStatus(await patch('text/plain', {}), 415, 'UnsupportedMediaType');
  });

  it('creates and then updates through server-side apply (application/apply-patch+yaml)', async () => {
    const path = '/api/v1/namespaces/default/configmaps/ssa?fieldManager=test';
    const apply = (value: string) =>
      request(t.cluster, 'PATCH', path, {
        body: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: "${value}"\n`,
        headers: { 'Content-Type': 'application/apply-patch+yaml' },
      });
    assert.equal((await apply('1')).status, 201);
    const second = await apply('2');
    assert.equal(second.status, 200);
    assert.equal((second.json() as { data: { k: string } }).data.k, '2');
  });

  it('refuses to delete the default namespace, and deleting another namespace deletes its contents', async () => {
    assertStatus(await request(t.cluster, 'DELETE', '/api/v1/namespaces/default'), 403, 'Forbidden');
    await request(t.cluster, 'POST', '/api/v1/namespaces', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } }),
    });
    const sa = (await request(t.cluster, 'GET', '/api/v1/namespaces/doomed/serviceaccounts/default')).status;
    assert.equal(sa, 200, 'a new namespace gets its default service account');
    await request(t.cluster, 'POST', '/api/v1/namespaces/doomed/configmaps', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inside' } }),
    });
    assert.equal((await request(t.cluster, 'DELETE', '/api/v1/namespaces/doomed')).status, 200);
    assertStatus(await request(t.cluster, 'GET', '/api/v1/namespaces/doomed/configmaps/inside'), 404, 'NotFound');
  });

  it('answers pods/log with 400 when the container is ambiguous or unknown, and 405 for verbs a resource lacks', async () => {
    const twoContainers = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'pair' },
      spec: {
        containers: [
          { name: 'one', image: 'busybox' },
          { name: 'two', image: 'busybox' },
        ],
      },
    });
    assert.equal((await request(t.cluster, 'POST', '/api/v1/namespaces/default/pods', { body: twoContainers })).status, 201);
    const ambiguous = assertStatus(await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods/pair/log'), 400, 'BadRequest');
    assert.equal(ambiguous.message, 'a container name must be specified for pod pair, choose one of: [one two]');
    const unknown = assertStatus(
      await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods/pair/log?container=three'),
      400,
      'BadRequest',
    );
    assert.equal(unknown.message, 'container three is not valid for pod pair');
    assertStatus(await request(t.cluster, 'GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'), 405, 'MethodNotAllowed');
    assertStatus(await request(t.cluster, 'DELETE', '/api/v1/namespaces/default/pods/pair/log'), 405, 'MethodNotAllowed');
  });

  it('answers a Table when asked (kubectl get), with pod columns', async () => {
    const response = await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods', {
      headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
    });
    const table = response.json() as { kind: string; columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
    assert.equal(table.kind, 'Table');
    assert.deepEqual(
      table.columnDefinitions.map((c) => c.name),
      ['Name', 'Ready', 'Status', 'Restarts', 'Age'],
    );
    assert.ok(table.rows.length > 0);
    // The API refuses a status of the wrong shape (400); one already stored (state written by an
    // older dev cluster) must still print.
    const refused = await request(t.cluster, 'PUT', '/api/v1/namespaces/default/pods/patched/status', {
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'patched' },
        spec: {},
        status: { phase: 'Running', containerStatuses: 5 },
      }),
    });
    assert.equal(refused.status, 400, refused.body);
    const pods = { group: '', version: 'v1', resource: 'pods' };
    const stored = t.cluster.store.get(pods, 'default', 'patched');
    assert.ok(stored);
    t.cluster.store.update(pods, { ...stored, status: { phase: 'Running', containerStatuses: 5 } });
    const still = await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods', {
      headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    });
    assert.equal(still.status, 200, 'a strange status written by a client does not break printing');
  });

  it('streams watch events from a resourceVersion and reports a too-old one as 410 Expired', async () => {
    const list = (await request(t.cluster, 'GET', '/api/v1/namespaces/default/configmaps')).json() as {
      metadata: { resourceVersion: string };
    };
    const watch = openWatch(t, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}`);
    await watch.opened;
    await request(t.cluster, 'POST', '/api/v1/namespaces/default/configmaps', {
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched' } }),
    });
    await request(t.cluster, 'DELETE', '/api/v1/namespaces/default/configmaps/watched');
    await eventually(() => watch.events.length >= 2, 'two watch events');
    assert.deepEqual(
      watch.events.map((e) => `${e.type} ${(e.object.metadata as { name: string }).name}`),
      ['ADDED watched', 'DELETED watched'],
    );
    watch.abort();

    const store = t.cluster.store as MemoryObjectStore;
    const old = store.resourceVersion;
    for (let i = 0; i < 5001; i++)
      store.create(
        { group: '', version: 'v1', resource: 'events' },
        { apiVersion: 'v1', kind: 'Event', metadata: { name: `churn-${i}`, namespace: 'kube-system' } },
      );
    const expired = openWatch(t, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${old}`);
    await expired.opened;
    await eventually(() => expired.isEnded(), 'the expired watch to end');
    const error = expired.events[0]!;
    assert.equal(error.type, 'ERROR');
    assert.equal(error.object.code, 410);
    assert.equal(error.object.reason, 'Expired');
  });

  it('answers 400 before streaming for a watch with a malformed selector or resourceVersion', async () => {
    assertStatus(await request(t.cluster, 'GET', '/api/v1/pods?watch=true&labelSelector=a%3D(b'), 400, 'BadRequest');
    assertStatus(await request(t.cluster, 'GET', '/api/v1/pods?watch=true&resourceVersion=abc'), 400, 'BadRequest');
  });

  it('ends a watch after timeoutSeconds', async () => {
    const watch = openWatch(t, '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1');
    await watch.opened;
    await eventually(() => watch.isEnded(), 'the watch to time out');
  });

  it('frees a watch when the client disconnects mid-stream, and keeps serving', async () => {
    const store = t.cluster.store as MemoryObjectStore;
    const before = store.watcherCount;
    const watch = openWatch(t, '/api/v1/pods?watch=1');
    await watch.opened;
    await eventually(() => store.watcherCount === before + 1, 'the watch to be registered');
    watch.abort();
    await eventually(() => store.watcherCount === before, 'the watch to be removed');
    assert.equal((await request(t.cluster, 'GET', '/api/v1/pods')).status, 200);
  });

  it('answers 403 Forbidden for a user without bindings, and honours impersonation only when allowed', async () => {
    await t.cluster.addToken('alice-token', { username: 'alice', groups: [] });
    const denied = assertStatus(
      await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods', { token: 'alice-token' }),
      403,
      'Forbidden',
    );
    assert.equal(denied.message, 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"');
    assertStatus(
      await request(t.cluster, 'GET', '/api/v1/pods', {
        token: 'alice-token',
        headers: { 'Impersonate-User': 'admin', 'Impersonate-Group': 'system:masters' },
      }),
      403,
      'Forbidden',
    );
    assertStatus(
      await request(t.cluster, 'GET', '/api/v1/namespaces/default/pods', { headers: { 'Impersonate-User': 'alice' } }),
      403,
      'Forbidden',
    );
    const review = JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'default' } },
    });
    const asAdmin = (
      await request(t.cluster, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { body: review })
    ).json() as { status: { allowed: boolean } };
    const asAlice = (
      await request(t.cluster, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: review,
        headers: { 'Impersonate-User': 'alice' },
      })
    ).json() as { status: { allowed: boolean } };
    assert.equal(asAdmin.status.allowed, true);
    assert.equal(asAlice.status.allowed, false);
  });

  it('gives an impersonated service account its groups, so bindings to system:serviceaccounts apply', async () => {
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'all-sa-view', namespace: 'default' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:serviceaccounts:default' }],
    };
    assert.equal(
      (
        await request(t.cluster, 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', {
          body: JSON.stringify(binding),
        })
      ).status,
      201,
    );
    const asServiceAccount = { 'Impersonate-User': 'system:serviceaccount:default:builder' };
    assert.equal((await request(t.cluster, 'GET', '/api/v1/namespaces/default/configmaps', { headers: asServiceAccount })).status, 200);
    assertStatus(
      await request(t.cluster, 'GET', '/api/v1/namespaces/kube-system/configmaps', { headers: asServiceAccount }),
      403,
      'Forbidden',
    );
  });
});
