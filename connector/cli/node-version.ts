/**
 * The connector needs Node.js 20.19 or newer (package.json `engines`). Inside Plesk the PHP
 * side picks a node by its install folder (`/opt/plesk/node/<major>`), which cannot tell 20.0
 * from 20.19, so the connector itself refuses an older runtime with a sentence the admin can act on.
 */
export const MIN_NODE_VERSION = '20.19.0';

export function unsupportedNodeMessage(version: string = process.versions.node): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [minMajor = 0, minMinor = 0] = MIN_NODE_VERSION.split('.').map(Number);
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return undefined;
  return `gdrive-backup needs Node.js ${MIN_NODE_VERSION} or newer, this is ${version}: install a newer Node.js (in Plesk: the Node.js extension) and try again.`;
}
