// Messages between the extension (logs/logPanel.ts) and the log view webview (main.ts). One
// file, imported by both sides, so a change to the protocol is a type error on both ends.

export type LogViewState =
  /** Opening the log stream. */
  | 'connecting'
  /** Lines are arriving (or may arrive: follow is on). */
  | 'streaming'
  /** The container has not started yet, so it has no logs; retrying. */
  | 'waiting'
  /** The stream ended (the container stopped, or follow was off). */
  | 'ended'
  /** The pod failed; its logs so far are shown. */
  | 'podFailed'
  /** The pod no longer exists. */
  | 'podDeleted'
  /** The logs could not be read; `detail` has an error code and explanation. */
  | 'error';

export interface LogTarget {
  namespace: string;
  pod: string;
  container: string;
}

export type ExtensionToWebview =
  | { type: 'init'; target: LogTarget; tailLines: number; follow: boolean; previous?: boolean }
  | { type: 'lines'; lines: string[] }
  /** The container restarted: a break line, then the new instance's lines. */
  | { type: 'restarted'; restartCount: number }
  | { type: 'state'; state: LogViewState; detail: string };

/** `previous`: open the container's instance before its last restart in a view of its own. */
export type WebviewToExtension = { type: 'ready' } | { type: 'download'; text: string } | { type: 'previous' };

export function isWebviewToExtension(value: unknown): value is WebviewToExtension {
  const message = value as { type?: unknown; text?: unknown } | null;
  if (!message || typeof message !== 'object') return false;
  return message.type === 'ready' || message.type === 'previous' || (message.type === 'download' && typeof message.text === 'string');
}
