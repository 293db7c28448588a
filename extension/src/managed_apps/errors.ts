// Errors of the managed-apps model. They extend UserFacingError: every message is written here
// (never upstream text), so the extension may show it as is.
import { UserFacingError } from '../kas_client/errors';

export type ManagedAppsErrorCode = 'CATALOG_INVALID' | 'UNKNOWN_APP' | 'VALUES_INVALID' | 'APP_BUSY' | 'NOT_INSTALLED' | 'CLUSTER_ERROR';

export class ManagedAppsError extends UserFacingError {
  override name = 'ManagedAppsError';
  constructor(
    override readonly code: ManagedAppsErrorCode,
    explanation: string,
  ) {
    super(code, explanation);
  }
}
