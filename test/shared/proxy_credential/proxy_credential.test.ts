// The proxy credential format, read as strictly as the reference reads it.
import { strict as assert } from 'node:assert';
import { bearerToken, canonicalAgentId, formatProxyCredential, parseProxyCredential } from '../../../agent/shared/proxy_credential';

describe('proxy credentials', () => {
  it('reads pat: and ci: credentials, keeping colons inside the token', () => {
    assert.deepEqual(parseProxyCredential('Bearer pat:42:secret'), { kind: 'pat', agentId: '42', token: 'secret' });
    assert.deepEqual(parseProxyCredential('Bearer ci:7:job:token:with:colons'), {
      kind: 'ci',
      agentId: '7',
      token: 'job:token:with:colons',
    });
  });

  it('reads back what it formats', () => {
    assert.deepEqual(parseProxyCredential(`Bearer ${formatProxyCredential('pat', 9, 'tok')}`), { kind: 'pat', agentId: '9', token: 'tok' });
  });

  it('refuses other cases, spacing and token types', () => {
    const refused = [
      undefined,
      '',
      'Bearer secret',
      'Basic cGF0OjE6eA==',
      'Bearer pat::x',
      'Bearer other:1:x',
      'Bearer PAT:1:x',
      'bearer pat:1:x',
      'Bearer  pat:1:x',
      'Bearer pat:1:x ',
      ' Bearer pat:1:x',
      'Bearer pat:1:',
      'Bearer pat:1:tök',
    ];
    for (const value of refused) assert.equal(parseProxyCredential(value), undefined, String(value));
  });

  it('accepts only canonical agent ids, so one agent has one id everywhere', () => {
    for (const id of ['01', '+1', '-1', '0', '1.0', '1e3', ' 1', '9223372036854775808']) {
      assert.equal(canonicalAgentId(id), undefined, id);
      assert.equal(parseProxyCredential(`Bearer pat:${id}:x`), undefined, id);
    }
    assert.equal(canonicalAgentId('9223372036854775807'), '9223372036854775807');
  });

  it('takes a bearer token only as `Bearer <printable ASCII>`', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    for (const value of [undefined, 'Bearer', 'Bearer ', 'Bearer a b', 'Token abc', 'Bearer \u00e9']) {
      assert.equal(bearerToken(value), undefined, String(value));
    }
  });
});
