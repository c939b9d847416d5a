import { describe, expect, it } from 'vitest';
import { unsupportedNodeMessage } from '../../connector/cli/node-version.js';

describe('Node.js version check', () => {
  it.each(['20.19.0', '20.20.2', '21.0.0', '22.1.0', '24.3.1'])('accepts %s', (version) => {
    expect(unsupportedNodeMessage(version)).toBeUndefined();
  });

  it.each(['20.0.0', '20.18.3', '18.20.4'])('refuses %s with what to do', (version) => {
    expect(unsupportedNodeMessage(version)).toBe(
      `gdrive-backup needs Node.js 20.19.0 or newer, this is ${version}: install a newer Node.js (in Plesk: the Node.js extension) and try again.`,
    );
  });

  it('accepts the Node.js running the tests', () => {
    expect(unsupportedNodeMessage()).toBeUndefined();
  });
});
