// Imported first by extension.ts, so this runs before the rest of the bundle's module code: the
// difference to the end of activate() is the activation cost including module initialisation.
export const moduleStartedAt = performance.now();
