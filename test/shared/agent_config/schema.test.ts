// The JSON Schema itself: documented everywhere, with the reference's top-level keys and limits.
import assert from 'node:assert/strict';
import { AGENT_CONFIG_SCHEMA, allowedKeys, resolveSchema, schemaAtPath, type JsonSchema } from '../../../agent/shared/agent_config';

/** Every key path of the schema (list items as index 0), depth-first. */
function keyPaths(path: (string | number)[] = [], depth = 0): (string | number)[][] {
  assert.ok(depth < 20, `schema nests too deeply at ${path.join('.')}`);
  const schema = schemaAtPath(path);
  if (schema === undefined) return [];
  const own = Object.keys(schema.properties ?? {}).flatMap((key) => [[...path, key], ...keyPaths([...path, key], depth + 1)]);
  const items = schema.items === undefined ? [] : keyPaths([...path, 0], depth + 1);
  return [...own, ...items];
}

describe('agent config JSON Schema', () => {
  it('has the reference top-level keys, gitops as having no effect', () => {
    assert.deepEqual(allowedKeys([]).sort(), [
      'ci_access',
      'container_scanning',
      'flux',
      'gitops',
      'observability',
      'remote_development',
      'user_access',
    ]);
    assert.match(schemaAtPath(['gitops'])?.deprecationMessage ?? '', /no effect/);
    assert.equal(schemaAtPath(['gitops'])?.type, undefined, 'any gitops content is accepted, as the reference skips it');
  });

  it('describes every key', () => {
    const paths = keyPaths();
    assert.ok(paths.length > 60, `only ${paths.length} keys found`);
    const undocumented = paths.filter((path) => (schemaAtPath(path)?.description ?? '').trim().length < 10).map((path) => path.join('.'));
    assert.deepEqual(undocumented, []);
  });

  it('limits projects and groups to 500 for each access kind', () => {
    for (const kind of ['ci_access', 'user_access']) {
      for (const list of ['projects', 'groups']) assert.equal(schemaAtPath([kind, list])?.maxItems, 500, `${kind}.${list}`);
    }
  });

  it('makes access_as a one-of, optional for user_access as in the reference', () => {
    const oneOf = (schema: JsonSchema | undefined) => [schema?.minProperties, schema?.maxProperties, Object.keys(schema?.properties ?? {})];
    assert.deepEqual(oneOf(schemaAtPath(['ci_access', 'projects', 0, 'access_as'])), [1, 1, ['agent', 'impersonate', 'ci_job']]);
    assert.deepEqual(oneOf(schemaAtPath(['user_access', 'access_as'])), [1, 1, ['agent', 'user']]);
    assert.equal(schemaAtPath(['user_access'])?.required, undefined);
  });

  it('resolves references keeping the more specific description', () => {
    const level = resolveSchema({ $ref: '#/definitions/logLevel', description: 'specific' });
    assert.equal(level.description, 'specific');
    // The reference's enum: names, or their numbers.
    assert.deepEqual(level.enum, ['info', 'debug', 'warn', 'error', 0, 1, 2, 3]);
    assert.throws(() => resolveSchema({ $ref: '#/definitions/nope' }), /unresolvable/);
    assert.equal(AGENT_CONFIG_SCHEMA.additionalProperties, false);
  });
});
