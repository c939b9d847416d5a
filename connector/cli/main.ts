/**
 * The `gdrive-backup` command (bundled into dist/gdrive-backup.mjs).
 *
 * Global options (--object, --data-dir and every setting's flag) may come before the command
 * (`gdrive-backup --data-dir D status`) or after it; the command's own wins. A usage error is
 * followed by the command's help. Errors go to stderr as `error: <one sentence>` (cli-errors.ts)
 * and end with an exit code a script can act on (EXIT_CODES_HELP).
 */
import { Command, CommanderError } from 'commander';
import { CONNECTOR_VERSION } from '../version.js';
import { EXIT_CODES_HELP, errorLine, exitCodeOf } from './cli-errors.js';
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
import { bashCompletion, zshCompletion } from './completion.js';
import { unsupportedNodeMessage } from './node-version.js';
import { addConfigOptions, settingsHelp, withExamples } from './options.js';

function settingsCommand(): Command {
  const command = new Command('settings').description(
    'List every setting: its environment variable, flag, accepted values and default',
  );
  withExamples(command, 'gdrive-backup settings', 'gdrive-backup settings | grep -A1 BANDWIDTH');
  return command.action(() => {
    process.stdout.write(`${settingsHelp().trimStart()}\n`);
  });
}

function completionCommand(program: Command): Command {
  const command = new Command('completion')
    .description('Print the shell completion script for bash or zsh')
    .argument('<shell>', 'bash or zsh');
  withExamples(
    command,
    'gdrive-backup completion bash > /etc/bash_completion.d/gdrive-backup',
    'source <(gdrive-backup completion bash)      # or this line in ~/.bashrc',
    'gdrive-backup completion zsh > "$fpath[1]/_gdrive-backup"   # then restart zsh',
  );
  return command.action((shell: string) => {
    if (shell === 'bash') process.stdout.write(bashCompletion(program));
    else if (shell === 'zsh') process.stdout.write(zshCompletion(program));
    else command.error(`error: no completion for "${shell}"; accepted: bash or zsh`, { exitCode: 2 });
  });
}

/**
 * Hands the options given before the command to it, unless the command got its own. One
 * given to a command that has no such option (`--data-dir` before `sandbox`) is a usage error.
 */
function inheritGlobalOptions(program: Command, action: Command): void {
  for (const option of program.options) {
    const key = option.attributeName();
    const source = program.getOptionValueSource(key);
    if (option.long === '--version' || source === undefined || source === 'default') continue;
    const own = action.options.find((candidate) => candidate.long === option.long);
    if (!own) action.error(`error: ${action.name()} takes no ${option.long}`, { exitCode: 2 });
    const ownSource = action.getOptionValueSource(key);
    if (ownSource === undefined || ownSource === 'default')
      action.setOptionValueWithSource(key, program.getOptionValue(key), source);
  }
}

export function buildProgram(): Command {
  const program = new Command('gdrive-backup')
    .description('Google Drive backup storage for Plesk: connector service and command line')
    .usage('[global options] <command> [options]')
    .version(CONNECTOR_VERSION, '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showHelpAfterError()
    .addHelpText(
      'after',
      [
        '',
        "Global options (--object, --data-dir and every setting's flag) go before or after the command.",
        'Run "gdrive-backup <command> --help" for its options and examples, "gdrive-backup settings" for',
        'every setting (environment variable, flag, default), "gdrive-backup completion bash|zsh" for',
        'shell completion.',
        '',
        EXIT_CODES_HELP,
      ].join('\n'),
    )
    .exitOverride();
  addConfigOptions(program);
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
    settingsCommand(),
    completionCommand(program),
  ];
  for (const command of commands) program.addCommand(command.exitOverride().showHelpAfterError());
  program.hook('preAction', (_program, action) => inheritGlobalOptions(program, action));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const unsupported = unsupportedNodeMessage();
  if (unsupported !== undefined) {
    process.stderr.write(`error: ${unsupported}\n`);
    return 1;
  }
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    // commander has printed its own message (and the help) already.
    if (exitCodeOf(error) !== 0 && !(error instanceof CommanderError)) process.stderr.write(errorLine(error));
    return exitCodeOf(error);
  }
}

process.exit(await main(process.argv));
