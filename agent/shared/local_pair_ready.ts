// The one line `local-pair --json` prints on stdout once the dev cluster, kas and agentk are up,
// and that the extension waits for:
//   {"event":"ready","apiUrl":"https://127.0.0.1:…/","k8sProxyUrl":"https://127.0.0.1:…/k8s-proxy/",
//    "agentId":"1","agentName":"dev","userToken":"…","caFile":"/path/ca.pem",…}
// caFile is omitted when kas serves plain HTTP. Every other line is free text.

export interface LocalPairReady {
  apiUrl: string;
  k8sProxyUrl: string;
  agentId: string;
  agentName: string;
  userToken: string;
  caFile?: string;
  agentAddress?: string;
  kubeconfigPath?: string;
  clusterUrl?: string;
}

export function formatReadyLine(ready: LocalPairReady): string {
  return JSON.stringify({ event: 'ready', ...ready }) + '\n';
}

/**
 * The ready event of a line, or undefined for any other line (free text, other events, bad JSON).
 * It reads what a client needs to connect; the writer's extra fields are for people and scripts.
 */
export function parseReadyLine(line: string): LocalPairReady | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || value.event !== 'ready') return undefined;
  const text = (key: string) => (typeof value[key] === 'string' || typeof value[key] === 'number' ? String(value[key]) : undefined);
  const [apiUrl, k8sProxyUrl, agentId, userToken] = [text('apiUrl'), text('k8sProxyUrl'), text('agentId'), text('userToken')];
  if (!apiUrl || !k8sProxyUrl || !agentId || !userToken) return undefined;
  return { apiUrl, k8sProxyUrl, agentId, userToken, agentName: text('agentName') ?? 'dev', caFile: text('caFile') };
}
