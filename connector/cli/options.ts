/**
 * Options every connector command shares: `--object`, `--data-dir` and the config flags of
 * config.ts's SETTINGS table (all accepted by every command; each command shows in its help the
 * ones that matter to it, and the top-level help lists the whole table).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseByteSize } from '../config/byte-size.js';
import {
  type Config,
  type ConfigOverrides,
  describeSettings,
  loadConfig,
  SETTINGS,
} from '../config/config.js';
import { createConnector } from '../connector.js';
import { formatObjectRef, type ObjectRef, parseObjectRef } from '../core/object-ref.js';
import { GdriveBackupError } from '../errors/errors.js';
import { ServiceClient } from '../service/service-client.js';
import { SECRETS_KEY_FILE } from '../store/stores.js';
import { type Backend, inProcessBackend } from './backend.js';

type SettingKey = (typeof SETTINGS)[number]['key'];

export const OBJECT_HELP = 'server, reseller:<id>, customer:<id> or subscription:<id> (default: server)';

/** Adds the config flags; `shown` are listed in the command's help, the rest are accepted silently. */
export function addConfigOptions(command: Command, shown: SettingKey[] = [], withObject = true): Command {
  // No commander default: a --object given before the command (main.ts) must not be overridden.
  if (withObject) command.option('--object <object>', OBJECT_HELP);
  for (const setting of SETTINGS) {
    const option = new Option(`${setting.flag} <value>`, `${setting.help} (${setting.accepts})`);
    if (setting.key !== 'dataDir' && !shown.includes(setting.key)) option.hideHelp();
    command.addOption(option);
  }
  return command;
}

/** Flag values by setting key, as raw strings for loadConfig to parse and validate. */
function configFlags(options: Record<string, unknown>): ConfigOverrides {
  const flags: Record<string, string> = {};
  for (const setting of SETTINGS) {
    const attribute = new Option(`${setting.flag} <value>`).attributeName();
    const value = options[attribute];
    if (typeof value === 'string') flags[setting.key] = value;
  }
  return flags as ConfigOverrides;
}

/** The validated config of a command (ConfigError on a bad value: exit 2). */
export function commandConfig(options: Record<string, unknown>): Config {
  return loadConfig({ flags: configFlags(options) });
}

export function commandObject(options: Record<string, unknown>): ObjectRef {
  return parseObjectRef(String(options.object ?? 'server'));
}

/**
 * The service on this data dir when one answers, else an in-process connector. Only one
 * process may own a data dir, so with no service the command holds its lock until it ends.
 *
 * `readOnly` commands (status, ls, stat, quota) change nothing: where no account can have been
 * connected yet (no data dir, or no secrets key of the embedded secrets store, which opening a
 * connector would create) they answer from noAccountBackend instead of making those files.
 */
export async function openBackend(config: Config, readOnly = false): Promise<Backend> {
  const service = await ServiceClient.find(config);
  if (service) return service;
  if (readOnly && !(await mayHoldAccounts(config))) return noAccountBackend();
  return inProcessBackend(await createConnector(config, { readOnly }));
}

async function mayHoldAccounts(config: Config): Promise<boolean> {
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );
  if (!(await exists(config.dataDir))) return false;
  return config.secretsStore !== 'file' || exists(join(config.dataDir, SECRETS_KEY_FILE));
}

/** Runs `fn` with a backend and closes it afterwards. */
export async function withBackend<T>(
  options: Record<string, unknown>,
  fn: (backend: Backend, object: ObjectRef, config: Config) => Promise<T>,
  { readOnly = false }: { readOnly?: boolean } = {},
): Promise<T> {
  const config = commandConfig(options);
  const object = commandObject(options);
  const backend = await openBackend(config, readOnly);
  try {
    return await fn(backend, object, config);
  } finally {
    await backend.close();
  }
}

/** Parses a byte count argument with the settings' parser (a bad value is a usage error). */
export function byteCount(raw: string): number {
  try {
    return parseByteSize(raw);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function positiveByteCount(raw: string): number {
  const value = byteCount(raw);
  if (value === 0) throw new InvalidArgumentError('must be more than 0');
  return value;
}

export function wholeNumber(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(raw);
}

/** The settings table for the top-level help. */
export function settingsHelp(): string {
  const rows = describeSettings();
  const lines = ['', 'Settings (defaults < <data dir>/config.json < environment < flags):'];
  for (const row of rows) {
    lines.push(`  ${row.flag.padEnd(24)} ${row.env}`);
    lines.push(
      `      ${row.help}. Accepts ${row.accepts.replace(/\.+$/, '')}. Default: ${row.default || "''"}`,
    );
  }
  return lines.join('\n');
}

/**
 * What a data dir in which no account was ever connected answers, without touching it: no
 * account for any object, and not_connected for everything that needs one.
 */
function noAccountBackend(): Backend {
  const none = (object: ObjectRef) =>
    Promise.reject(new GdriveBackupError('not_connected', { object: formatObjectRef(object) }));
  const noHandle = (fd: string) => Promise.reject(new GdriveBackupError('unknown_handle', { fd }));
  return {
    mode: 'in-process',
    account: async () => ({ connected: false }),
    oauthStart: none,
    oauthFinish: none,
    disconnect: none,
    check: none,
    quota: none,
    stat: none,
    list: none,
    createDir: none,
    deleteFile: none,
    deleteDir: none,
    openWrite: none,
    append: noHandle,
    closeWrite: noHandle,
    cancelWrite: noHandle,
    openRead: none,
    read: noHandle,
    closeRead: noHandle,
    close: async () => {},
  };
}

/** Adds an "Examples:" section to the command's help. */
export function withExamples(command: Command, ...lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}`);
}
