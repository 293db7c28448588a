import assert from 'node:assert/strict';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, patchTypeOf } from '../../../agent/devtools/devcluster/store/patch';
import { ApiError } from '../../../agent/devtools/devcluster/status';

const pod = () => ({
  metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['x', 'y'] },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'app:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 80 }],
      },
      { name: 'side', image: 'side:1' },
    ],
    tolerations: [{ key: 't1' }],
  },
});

describe('devcluster/patch', () => {
  it('merge patch: replaces values, removes keys set to null, replaces lists whole', () => {
    const result = applyMergePatch(pod(), {
      metadata: { labels: { a: null, c: '3' } },
      spec: { tolerations: [{ key: 't2' }] },
    }) as ReturnType<typeof pod>;
    assert.deepEqual(result.metadata.labels, { b: '2', c: '3' });
    assert.deepEqual(result.spec.tolerations, [{ key: 't2' }]);
    assert.equal(result.spec.containers.length, 2);
  });

  it('strategic merge patch: merges containers and env by name, keeps unnamed items, replaces atomic lists', () => {
    const patch = {
      spec: {
        containers: [
          {
            name: 'app',
            image: 'app:2',
            env: [
              { name: 'B', value: 'two' },
              { name: 'C', value: '3' },
            ],
          },
        ],
        tolerations: [{ key: 't2' }],
      },
    };
    const result = applyStrategicMergePatch(pod(), patch) as ReturnType<typeof pod>;
    const app = result.spec.containers.find((c) => c.name === 'app')!;
    assert.equal(result.spec.containers.length, 2, 'the side container stays');
    assert.equal(app.image, 'app:2');
    assert.deepEqual(app.env, [
      { name: 'A', value: '1' },
      { name: 'B', value: 'two' },
      { name: 'C', value: '3' },
    ]);
    assert.deepEqual(app.ports, [{ containerPort: 80 }]);
    assert.deepEqual(result.spec.tolerations, [{ key: 't2' }]);
  });

  it('strategic merge patch: honours $patch delete/replace, $deleteFromPrimitiveList and ignores $setElementOrder', () => {
    const patch = {
      metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] },
      spec: { '$setElementOrder/containers': [{ name: 'app' }], containers: [{ name: 'side', $patch: 'delete' }] },
    };
    const result = applyStrategicMergePatch(pod(), patch) as ReturnType<typeof pod>;
    assert.deepEqual(result.metadata.finalizers, ['y']);
    assert.deepEqual(
      result.spec.containers.map((c) => c.name),
      ['app'],
    );
    assert.ok(!('$setElementOrder/containers' in result.spec));
    const replaced = applyStrategicMergePatch(pod(), { metadata: { labels: { $patch: 'replace', only: 'this' } } }) as ReturnType<
      typeof pod
    >;
    assert.deepEqual(replaced.metadata.labels, { only: 'this' });
  });

  it('JSON patch: add, replace, remove, move, copy and test, with 400/422 on bad operations', () => {
    const result = applyJsonPatch(pod(), [
      { op: 'add', path: '/metadata/labels/c', value: '3' },
      { op: 'replace', path: '/spec/containers/0/image', value: 'app:3' },
      { op: 'remove', path: '/metadata/labels/a' },
      { op: 'copy', from: '/metadata/labels/b', path: '/metadata/labels/d' },
      { op: 'move', from: '/metadata/labels/c', path: '/metadata/labels/e' },
      { op: 'add', path: '/spec/tolerations/-', value: { key: 't3' } },
      { op: 'test', path: '/metadata/name', value: 'p' },
    ]) as ReturnType<typeof pod>;
    assert.deepEqual(result.metadata.labels, { b: '2', d: '2', e: '3' });
    assert.equal(result.spec.containers[0]!.image, 'app:3');
    assert.equal(result.spec.tolerations.length, 2);
    assert.throws(
      () => applyJsonPatch(pod(), [{ op: 'remove', path: '/nope/x' }]),
      (e: unknown) => e instanceof ApiError && e.code === 400,
    );
    assert.throws(
      () => applyJsonPatch(pod(), [{ op: 'test', path: '/metadata/name', value: 'q' }]),
      (e: unknown) => e instanceof ApiError && e.code === 422,
    );
    assert.throws(
      () => applyJsonPatch(pod(), { op: 'add' }),
      (e: unknown) => e instanceof ApiError && e.code === 400,
    );
  });

  it('knows the patch media types and answers 415 for others', () => {
    assert.equal(patchTypeOf('application/strategic-merge-patch+json; charset=utf-8'), 'strategic');
    assert.equal(patchTypeOf('application/apply-patch+yaml'), 'apply');
    assert.throws(
      () => patchTypeOf('application/json'),
      (e: unknown) => e instanceof ApiError && e.code === 415,
    );
  });
});
