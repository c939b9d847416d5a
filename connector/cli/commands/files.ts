/** `check`, `ls`, `stat`, `mkdir`, `rm`, `rmdir`, `quota`: one hook method each. */
import { Command } from 'commander';
import type { Entry } from '../../core/types.js';
import { GdriveBackupError } from '../../errors/errors.js';
import { formatBytes } from '../format.js';
import { addConfigOptions, withBackend, withExamples } from '../options.js';

function entryLine(entry: Entry): string {
  if (entry.isDir) return `d ${'-'.padStart(14)}  ${entry.name}/`;
  return `- ${String(entry.size).padStart(14)}  ${entry.name}${entry.hash ? `  md5:${entry.hash}` : ''}`;
}

export function checkCommand(): Command {
  const command = new Command('check')
    .description("Run the hook's check(): create, write, read, list and delete a probe; exit 1 on errors")
    .option('--json', 'print JSON');
  addConfigOptions(command);
  withExamples(command, 'gdrive-backup check', 'gdrive-backup check --object subscription:12 --json');
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(options, async (backend, object) => {
      const result = await backend.check(object);
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else {
        for (const error of result.errors) process.stderr.write(`error: ${error}\n`);
        for (const warning of result.warnings) process.stdout.write(`warning: ${warning}\n`);
        if (result.errors.length === 0)
          process.stdout.write('OK: create, write, read, list and delete work\n');
      }
      if (result.errors.length > 0) process.exitCode = 1;
    });
  });
}

export function lsCommand(): Command {
  const command = new Command('ls')
    .description("List a directory of the object's folder (listDir)")
    .argument('[remote]', 'directory, relative to the object folder', '/')
    .option('--json', 'print JSON');
  addConfigOptions(command);
  withExamples(command, 'gdrive-backup ls', 'gdrive-backup ls /2611270611 --json');
  return command.action(async (remote: string, options: Record<string, unknown>) => {
    await withBackend(
      options,
      async (backend, object) => {
        const entries = await backend.list(object, remote);
        if (options.json) process.stdout.write(`${JSON.stringify(entries)}\n`);
        else for (const entry of entries) process.stdout.write(`${entryLine(entry)}\n`);
      },
      { readOnly: true },
    );
  });
}

export function statCommand(): Command {
  const command = new Command('stat')
    .description('Show name, size, kind and md5 of a file or directory; exit 3 when absent')
    .argument('<remote>', 'path relative to the object folder')
    .option('--json', 'print JSON');
  addConfigOptions(command);
  withExamples(
    command,
    'gdrive-backup stat /2611270611/backup_2611270611.tar',
    'gdrive-backup stat /dumps/backup.tar --json || echo "exit $?: 3 means not there"',
  );
  return command.action(async (remote: string, options: Record<string, unknown>) => {
    await withBackend(
      options,
      async (backend, object) => {
        const entry = await backend.stat(object, remote);
        if (entry === null) throw new GdriveBackupError('not_found', { path: remote });
        if (options.json) process.stdout.write(`${JSON.stringify(entry)}\n`);
        else process.stdout.write(`${entryLine(entry)}\n`);
      },
      { readOnly: true },
    );
  });
}

/** A command that runs one Backend method on its <remote> path and prints nothing. */
function pathCommand(
  name: string,
  description: string,
  method: 'createDir' | 'deleteFile' | 'deleteDir',
  example: string,
): Command {
  const command = new Command(name)
    .description(`${description} (${method})`)
    .argument('<remote>', 'path relative to the object folder');
  addConfigOptions(command);
  withExamples(
    command,
    `gdrive-backup ${name} ${example}`,
    `gdrive-backup ${name} --object customer:3 ${example}`,
  );
  return command.action(async (remote: string, options: Record<string, unknown>) => {
    await withBackend(options, (backend, object) => backend[method](object, remote));
  });
}

export function mkdirCommand(): Command {
  return pathCommand('mkdir', 'Create a directory and its missing parents', 'createDir', '/2611270611/split');
}

export function rmCommand(): Command {
  return pathCommand('rm', 'Delete a file permanently', 'deleteFile', '/2611260611/backup.tar');
}

export function rmdirCommand(): Command {
  return pathCommand(
    'rmdir',
    'Delete a directory and everything in it permanently',
    'deleteDir',
    '/2611260611',
  );
}

export function quotaCommand(): Command {
  const command = new Command('quota')
    .description('Show total and free Drive space of the connected account (getQuota)')
    .option('--json', 'print JSON');
  addConfigOptions(command);
  withExamples(command, 'gdrive-backup quota', 'gdrive-backup quota --object reseller:2 --json');
  return command.action(async (options: Record<string, unknown>) => {
    await withBackend(
      options,
      async (backend, object) => {
        const quota = await backend.quota(object);
        if (options.json) process.stdout.write(`${JSON.stringify(quota)}\n`);
        else if ('total' in quota)
          process.stdout.write(
            `total ${quota.total} (${formatBytes(quota.total)}), free ${quota.free} (${formatBytes(quota.free)})\n`,
          );
        else process.stdout.write('unlimited or unknown\n');
      },
      { readOnly: true },
    );
  });
}
