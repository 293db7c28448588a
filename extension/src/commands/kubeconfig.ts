// A kubeconfig for one agent, pointing at kas's k8s proxy with the `pat:` credential. Written
// as YAML whose scalars are JSON strings (valid YAML, no quoting pitfalls, no YAML dependency).

export interface KubeconfigParts {
  contextName: string;
  server: string;
  caPem?: string;
  token: string;
}

export function buildKubeconfig(parts: KubeconfigParts): string {
  const q = JSON.stringify;
  const name = q(parts.contextName);
  const ca = parts.caPem ? `\n    certificate-authority-data: ${q(Buffer.from(parts.caPem).toString('base64'))}` : '';
  return `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: ${q(parts.server)}${ca}
users:
- name: ${name}
  user:
    token: ${q(parts.token)}
contexts:
- name: ${name}
  context:
    cluster: ${name}
    user: ${name}
current-context: ${name}
`;
}
