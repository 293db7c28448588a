// The local pair's output as the extension shows it: its ready line (agent/shared/local_pair_ready.ts)
// is read there; every other line is free text copied to the output channel, credentials redacted.
import { redactSecrets } from '../../../agent/shared/redact';

/** The line as shown in the output channel: never the user token. */
export function displayLine(line: string, knownSecrets: readonly string[]): string {
  let shown = redactSecrets(line);
  for (const secret of knownSecrets) if (secret) shown = shown.split(secret).join('[REDACTED]');
  return shown.replace(/("userToken"\s*:\s*")[^"]*"/g, '$1[REDACTED]"');
}
