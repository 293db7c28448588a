// Credential redaction for every log line and output channel: kas, agentk and the extension.
// Bearer values, pat:/ci: proxy credentials and JWT-like strings.
const SECRET_PATTERNS: RegExp[] = [/(Bearer\s+)[^\s"',]+/gi, /\b((?:pat|ci):[^:\s"]+:)[^\s"',]+/g, /\beyJ[\w-]+\.[\w-]+\.[\w-]+/g];

export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce(
    (acc, pattern) => acc.replace(pattern, (_m, keep?: string) => `${typeof keep === 'string' ? keep : ''}[REDACTED]`),
    text,
  );
}
