/** `connect`, `disconnect`, `status`: the object's Google account. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { DEFAULT_CONNECT_PORT } from '../../config/config.js';
import { formatObjectRef } from '../../core/object-ref.js';
import type { AccountInfo, Quota } from '../../core/types.js';
import { formatBytes } from '../format.js';
import { connectThroughLoopback, loopbackRedirectUri } from '../oauth-loopback.js';
import { addConfigOptions, wholeNumber, withBackend, withExamples } from '../options.js';

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

/** No browser on this machine: an SSH session, or Linux without a graphical display. */
function looksHeadless(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.SSH_CONNECTION || env.SSH_TTY) return true;
  return process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY;
}

export function connectCommand(): Command {
  const command = new Command('connect')
    .description(
      `Connect a Google account: prints the consent URL and takes Google's answer on http://127.0.0.1:<port>/oauth2callback (default port ${DEFAULT_CONNECT_PORT}), or as the pasted address the browser ended on`,
    )
    .addOption(
      new Option(
        '--port <port>',
        `loopback port of the redirect URI (default ${DEFAULT_CONNECT_PORT}; 0 = any free port, Desktop app clients only)`,
      ).argParser(wholeNumber),
    )
    .option('--name <name>', "the object's folder name (domain name, login); default: its id")
    .option(
      '--folder <folder>',
      "the object's own root folder: a path in My Drive, id:<folderId> or drive:<sharedDriveId>[/path]",
    )
    .option(
      '--headless',
      'the browser is on another machine: paste the address it ended on (default when there is no display or over SSH)',
    )
    .option('--browser', 'also try to open the URL in a browser on this machine')
    .option('--no-browser', 'only print the URL (default)')
    .addHelpText(
      'after',
      `
A "Web application" OAuth client must list the redirect URI ${loopbackRedirectUri(DEFAULT_CONNECT_PORT)}
(or the one of --port) under "Authorized redirect URIs"; a "Desktop app" client (--client-type desktop)
takes any port. Over SSH, either paste the address the browser ended on (it cannot load it; that is
expected), or forward the port: ssh -L ${DEFAULT_CONNECT_PORT}:127.0.0.1:${DEFAULT_CONNECT_PORT} <server>.

Examples:
  gdrive-backup connect
  gdrive-backup connect --headless --object subscription:12 --name example.com
  gdrive-backup connect --client-type desktop --port 0`,
    );
  addConfigOptions(command, ['clientId', 'clientSecret', 'clientType', 'scope', 'rootFolder']);
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object, config) => {
      const port = typeof options.port === 'number' ? options.port : config.connectPort;
      const headless = options.headless === true || looksHeadless();
      const out = (text: string) => process.stdout.write(`${text}\n`);
      // A pasted address is taken in both modes; in headless mode it is the way back.
      const lines = createInterface({ input: process.stdin, terminal: false });
      try {
        const { email } = await connectThroughLoopback(
          backend,
          object,
          {
            port,
            headless,
            pasted: lines,
            notice: out,
            timeoutMs: CONSENT_WAIT_MS,
            ...(typeof options.name === 'string' ? { name: options.name } : {}),
            ...(typeof options.folder === 'string' ? { folder: options.folder } : {}),
          },
          async (url, redirectUri) => {
            out(
              config.clientType === 'web'
                ? `Redirect URI (list it for your "Web application" OAuth client): ${redirectUri}`
                : `Redirect URI (a "Desktop app" OAuth client takes any loopback port): ${redirectUri}`,
            );
            out('Open this address in a browser and allow access to Google Drive:');
            out(url);
            if (headless) {
              out(
                `The browser then goes to ${redirectUri}?... which it cannot load when it runs on another machine: copy that whole address from its address bar and paste it here.`,
              );
            } else {
              out(
                `Waiting for Google's answer on ${redirectUri} (or paste the address the browser ended on) ...`,
              );
              if (options.browser === true) openBrowser(url);
            }
          },
        );
        out(`Connected ${formatObjectRef(object)} to Google Drive as ${email}`);
      } finally {
        lines.close();
      }
    });
  });
}

export function disconnectCommand(): Command {
  const command = new Command('disconnect').description(
    "Revoke the object's Google access and forget its tokens",
  );
  addConfigOptions(command);
  withExamples(command, 'gdrive-backup disconnect', 'gdrive-backup disconnect --object subscription:12');
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object) => {
      await backend.disconnect(object);
      process.stdout.write(`Disconnected ${formatObjectRef(object)} from Google Drive\n`);
    });
  });
}

/** An ISO time as the admin reads it: `2026-12-01 08:40:12 UTC (3 minutes ago)`. */
export function whenText(iso: string, now = Date.now()): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  const seconds = Math.max(0, Math.round((now - time.getTime()) / 1000));
  const ago =
    seconds < 90
      ? `${seconds} s ago`
      : seconds < 90 * 60
        ? `${Math.round(seconds / 60)} minutes ago`
        : seconds < 36 * 3600
          ? `${Math.round(seconds / 3600)} hours ago`
          : `${Math.round(seconds / 86400)} days ago`;
  return `${time
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')} (${ago})`;
}

function statusLines(object: string, account: AccountInfo, quota: Quota, via: string): string[] {
  const lines = [`Object:        ${object}`];
  if (!account.connected) lines.push('Account:       not connected (run: gdrive-backup connect)');
  else {
    lines.push(`Account:       ${account.email ?? '?'}`);
    if (account.connectedAt) lines.push(`Connected:     ${whenText(account.connectedAt)}`);
    lines.push(
      `Token:         ${account.tokenRefreshedAt ? `refreshed ${whenText(account.tokenRefreshedAt)}` : 'not refreshed since connecting'}`,
    );
    if (account.folder) lines.push(`Folder:        ${account.folder}`);
    lines.push(
      'total' in quota
        ? `Quota:         ${formatBytes(quota.free)} free of ${formatBytes(quota.total)}`
        : 'Quota:         unlimited or unknown',
    );
  }
  const backup = account.lastBackup;
  lines.push(
    backup
      ? `Last backup:   ${backup.path}, ${formatBytes(backup.size)}, ${whenText(backup.at)}`
      : 'Last backup:   none written yet',
  );
  const failure = account.lastError;
  lines.push(
    failure
      ? `Last error:    ${whenText(failure.at)}, ${failure.path}: ${failure.message} (${failure.code})`
      : 'Last error:    none',
  );
  lines.push(`Via:           ${via}`);
  return lines;
}

export function statusCommand(): Command {
  const command = new Command('status')
    .description(
      "Show the object's account, when it was connected and its token refreshed, its Drive folder and quota, the last backup written and the last error",
    )
    .option('--json', 'print JSON');
  addConfigOptions(command);
  withExamples(command, 'gdrive-backup status', 'gdrive-backup --object subscription:12 status --json');
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(
      options,
      async (backend, object) => {
        const account = await backend.account(object);
        const quota = account.connected ? await backend.quota(object) : {};
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({ object: formatObjectRef(object), ...account, quota, via: backend.mode })}\n`,
          );
          return;
        }
        const via = backend.mode === 'service' ? 'the running service' : 'this process (no service running)';
        process.stdout.write(`${statusLines(formatObjectRef(object), account, quota, via).join('\n')}\n`);
      },
      { readOnly: true },
    );
  });
}
