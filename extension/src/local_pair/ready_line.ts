// What the extension needs from `dist/local-pair.js` (the bundled dev cluster + kas + agentk):
// one line on stdout that is a JSON object
//   {"event":"ready","apiUrl":"https://127.0.0.1:…/","k8sProxyUrl":"https://127.0.0.1:…/k8s-proxy/",
//    "agentId":"1","agentName":"dev","userToken":"…","caFile":"/path/ca.pem"}
// (caFile optional: omitted when kas serves plain HTTP). Every other line is free text and is
// copied to the output channel, with credentials redacted.
import { redactSecrets } from '../../../agent/shared/redact';

export interface LocalPairReady {
  apiUrl: string;
  k8sProxyUrl: string;
  agentId: string;
  agentName: string;
  userToken: string;
  caFile?: string;
}

export function parseReadyLine(line: string): LocalPairReady | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (value.event !== 'ready') return undefined;
  const text = (key: string) => (typeof value[key] === 'string' || typeof value[key] === 'number' ? String(value[key]) : undefined);
  const [apiUrl, k8sProxyUrl, agentId, userToken] = [text('apiUrl'), text('k8sProxyUrl'), text('agentId'), text('userToken')];
  if (!apiUrl || !k8sProxyUrl || !agentId || !userToken) return undefined;
  return { apiUrl, k8sProxyUrl, agentId, userToken, agentName: text('agentName') ?? 'dev', caFile: text('caFile') };
}

/** The line as shown in the output channel: never the user token. */
export function displayLine(line: string, knownSecrets: readonly string[]): string {
  let shown = redactSecrets(line);
  for (const secret of knownSecrets) if (secret) shown = shown.split(secret).join('[REDACTED]');
  return shown.replace(/("userToken"\s*:\s*")[^"]*"/g, '$1[REDACTED]"');
}
