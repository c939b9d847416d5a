/**
 * Options every connector command shares: `--object`, `--data-dir` and the config flags of
 * config.ts's SETTINGS table (all accepted by every command; each command shows in its help the
 * ones that matter to it, and the top-level help lists the whole table).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type Config,
  type ConfigOverrides,
  describeSettings,
  loadConfig,
  SETTINGS,
} from '../config/config.js';
import { createConnector } from '../connector.js';
import { type ObjectRef, parseObjectRef } from '../transport/object-ref.js';
import { type Backend, inProcessBackend } from './backend.js';
import { ServiceClient } from './service-client.js';

type SettingKey = (typeof SETTINGS)[number]['key'];

/** Adds the config flags; `shown` are listed in the command's help, the rest are accepted silently. */
export function addConfigOptions(command: Command, shown: SettingKey[] = [], withObject = true): Command {
  if (withObject)
    command.option(
      '--object <object>',
      'server, reseller:<id>, customer:<id> or subscription:<id>',
      'server',
    );
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
 */
export async function openBackend(config: Config): Promise<Backend> {
  const service = await ServiceClient.find(config);
  if (service) return service;
  return inProcessBackend(await createConnector(config));
}

/** Runs `fn` with a backend and closes it afterwards. */
export async function withBackend<T>(
  options: Record<string, unknown>,
  fn: (backend: Backend, object: ObjectRef, config: Config) => Promise<T>,
): Promise<T> {
  const config = commandConfig(options);
  const object = commandObject(options);
  const backend = await openBackend(config);
  try {
    return await fn(backend, object, config);
  } finally {
    await backend.close();
  }
}

/** Parses a byte count argument (commander calls it; a bad value is a usage error). */
export function byteCount(raw: string): number {
  const match = /^(\d+)([KMG]i?B?)?$/i.exec(raw.trim());
  if (!match) throw new InvalidArgumentError('expected bytes, e.g. 104857600 or 100MiB');
  const unit = (match[2] ?? '').toUpperCase().replace(/I?B$/, '');
  const factor = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  const value = Number(match[1]) * factor;
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError('too large');
  return value;
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
