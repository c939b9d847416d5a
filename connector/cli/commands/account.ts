/** `connect`, `disconnect`, `status`: the object's Google account. */
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import { formatObjectRef } from '../../transport/object-ref.js';
import { formatBytes } from '../format.js';
import { connectThroughLoopback } from '../oauth-loopback.js';
import { addConfigOptions, wholeNumber, withBackend } from '../options.js';

/** The state the connector hands out lives 10 minutes; waiting longer cannot succeed. */
const CONSENT_WAIT_MS = 10 * 60 * 1000;

function openBrowser(url: string): void {
  const opener =
    process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => {}); // no browser here: the printed URL is enough
    child.unref();
  } catch {
    // same: the URL is printed
  }
}

export function connectCommand(): Command {
  const command = new Command('connect')
    .description(
      'Connect a Google account: prints the consent URL, waits for Google on a loopback address, prints the e-mail',
    )
    .addOption(
      new Option('--port <port>', 'loopback port of the redirect listener (0 = any free port)')
        .argParser(wholeNumber)
        .default(0),
    )
    .option('--name <name>', "the object's folder name (domain name, login); default: its id")
    .option(
      '--folder <folder>',
      "the object's own root folder: a path in My Drive, id:<folderId> or drive:<sharedDriveId>[/path]",
    )
    .option('--browser', 'also try to open the URL in a browser on this machine')
    .option('--no-browser', 'only print the URL (default)');
  addConfigOptions(command, ['clientId', 'clientSecret', 'scope', 'rootFolder']);
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object) => {
      const { email } = await connectThroughLoopback(
        backend,
        object,
        {
          port: options.port as number,
          timeoutMs: CONSENT_WAIT_MS,
          ...(typeof options.name === 'string' ? { name: options.name } : {}),
          ...(typeof options.folder === 'string' ? { folder: options.folder } : {}),
        },
        async (url, redirectUri) => {
          process.stdout.write(`Open this address in a browser and allow access to Google Drive:\n${url}\n`);
          process.stdout.write(`Waiting for Google's answer on ${redirectUri} ...\n`);
          if (options.browser === true) openBrowser(url);
        },
      );
      process.stdout.write(`Connected ${formatObjectRef(object)} to Google Drive as ${email}\n`);
    });
  });
}

export function disconnectCommand(): Command {
  const command = new Command('disconnect').description(
    "Revoke the object's Google access and forget its tokens",
  );
  addConfigOptions(command);
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object) => {
      await backend.disconnect(object);
      process.stdout.write(`Disconnected ${formatObjectRef(object)} from Google Drive\n`);
    });
  });
}

export function statusCommand(): Command {
  const command = new Command('status')
    .description("Show the object's account, Drive folder and quota")
    .option('--json', 'print JSON');
  addConfigOptions(command);
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object) => {
      const account = await backend.account(object);
      const quota = account.connected ? await backend.quota(object) : {};
      const via = backend.mode === 'service' ? 'the running service' : 'this process (no service running)';
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ object: formatObjectRef(object), ...account, quota, via: backend.mode })}\n`,
        );
        return;
      }
      const lines = [`Object:  ${formatObjectRef(object)}`];
      if (!account.connected) lines.push('Account: not connected (run: gdrive-backup connect)');
      else {
        lines.push(`Account: ${account.email ?? '?'}`);
        if (account.folder) lines.push(`Folder:  ${account.folder}`);
        lines.push(
          'total' in quota
            ? `Quota:   ${formatBytes(quota.free)} free of ${formatBytes(quota.total)}`
            : 'Quota:   unlimited or unknown',
        );
      }
      lines.push(`Via:     ${via}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  });
}
