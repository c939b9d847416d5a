/**
 * The `gdrive-backup` command (bundled into dist/gdrive-backup.mjs).
 * Exit codes: 0 ok, 1 a failed operation, 2 bad usage or a bad setting. Errors go to stderr as
 * one sentence from the error catalogue (or the config's ConfigError).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { GdriveBackupError, toGdriveBackupError } from '../errors/errors.js';
import { CONNECTOR_VERSION } from '../version.js';
import { connectCommand, disconnectCommand, statusCommand } from './commands/account.js';
import { benchCommand } from './commands/bench.js';
import {
  checkCommand,
  lsCommand,
  mkdirCommand,
  quotaCommand,
  rmCommand,
  rmdirCommand,
  statCommand,
} from './commands/files.js';
import { demoCommand, sandboxCommand, serveCommand } from './commands/service.js';
import { getCommand, putCommand } from './commands/transfer.js';
import { unsupportedNodeMessage } from './node-version.js';
import { settingsHelp } from './options.js';

export function buildProgram(): Command {
  const program = new Command('gdrive-backup')
    .description('Google Drive backup storage for Plesk: connector service and command line')
    .version(CONNECTOR_VERSION, '-V, --version', 'print the version')
    .addHelpText(
      'after',
      `${settingsHelp()}\n\nAccount and file commands take --object (default server); all but sandbox and demo take --data-dir; run "gdrive-backup <command> --help" for its options.\nExit codes: 0 ok, 1 the operation failed, 2 bad usage or setting.`,
    )
    .exitOverride();
  const commands = [
    sandboxCommand(),
    connectCommand(),
    disconnectCommand(),
    statusCommand(),
    checkCommand(),
    putCommand(),
    getCommand(),
    lsCommand(),
    statCommand(),
    mkdirCommand(),
    rmCommand(),
    rmdirCommand(),
    quotaCommand(),
    serveCommand(),
    demoCommand(),
    benchCommand(),
  ];
  for (const command of commands) program.addCommand(command.exitOverride());
  return program;
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof ConfigError) return 2;
  if (error instanceof GdriveBackupError && error.code === 'invalid_object') return 2;
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const unsupported = unsupportedNodeMessage();
  if (unsupported !== undefined) {
    process.stderr.write(`${unsupported}\n`);
    return 1;
  }
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // commander has printed its own message already.
    if (!(error instanceof CommanderError)) {
      const message = error instanceof ConfigError ? error.message : toGdriveBackupError(error).message;
      process.stderr.write(`${message}\n`);
    }
    return exitCodeOf(error);
  }
}

process.exit(await main(process.argv));
