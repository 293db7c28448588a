// The kas version is the package version, bundled into dist/kas.js by esbuild.
import packageJson from '../../package.json';

export const KAS_VERSION: string = packageJson.version;
