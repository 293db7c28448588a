import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, issueServerCertificate, LOOPBACK_HOSTS } from '../../agent/internal/tls';
import { createLogger } from '../../agent/internal/log';
import { redactSecrets } from '../../agent/shared/redact';

describe('internal/tls', () => {
  it('issues a loopback server certificate that verifies against its CA', () => {
    const ca = createCertificateAuthority();
    const server = issueServerCertificate(ca, LOOPBACK_HOSTS);
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(server.certPem);
    assert.equal(caCert.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(caCert.publicKey), 'server cert is signed by the CA');
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.ok(cert.checkHost('localhost'));
    assert.equal(cert.checkHost('example.com'), undefined);
  });
});

describe('internal/log', () => {
  it('redacts bearer tokens and proxy credentials', () => {
    const text = redactSecrets('Authorization: Bearer abc.def and pat:42:s3cr3t and ci:7:jobtok');
    assert.ok(!text.includes('abc.def'));
    assert.ok(!text.includes('s3cr3t'));
    assert.ok(!text.includes('jobtok'));
    assert.match(text, /pat:42:\[REDACTED\]/);
  });

  it('writes one JSON object per line, filtered by level, with secrets redacted', () => {
    const lines: string[] = [];
    const log = createLogger({ component: 'test' }, { level: 'info', write: (l) => lines.push(l) });
    log.debug('hidden');
    log.info('request', { header: 'Bearer topsecret' });
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!);
    assert.equal(record.component, 'test');
    assert.equal(record.msg, 'request');
    assert.ok(!lines[0]!.includes('topsecret'));
  });
});
