/** The connector's version, set at bundle time from package.json (see scripts/build.mjs). */
declare const __CONNECTOR_VERSION__: string | undefined;

export const CONNECTOR_VERSION: string =
  typeof __CONNECTOR_VERSION__ === 'string'
    ? __CONNECTOR_VERSION__
    : (process.env.npm_package_version ?? '0.0.0-dev');
