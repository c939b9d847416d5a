/** `serve`, `sandbox` and `demo`: the long-running commands. */
import { Command, Option } from 'commander';
import { runDemo } from '../../demo/demo.js';
import { runSandboxCommand } from '../../sandbox/sandbox-command.js';
import { runServeCommand } from '../../service/serve-command.js';
import { addConfigOptions, commandConfig, positiveByteCount, wholeNumber } from '../options.js';

export function serveCommand(): Command {
  const command = new Command('serve').description(
    'Run the connector service the Plesk extension calls (HTTP API on a unix socket or a loopback port)',
  );
  addConfigOptions(
    command,
    [
      'socketPath',
      'listen',
      'socketGroup',
      'idleTimeout',
      'logLevel',
      'exchangeDirs',
      'secretsStore',
      'storeUrl',
      'clientId',
      'clientSecret',
    ],
    false,
  );
  return command.action(async (options: Record<string, unknown>) => {
    await runServeCommand(commandConfig(options));
  });
}

export function sandboxCommand(): Command {
  return new Command('sandbox')
    .description(
      'Run the local Google Drive + OAuth emulator; prints GDRIVE_...=value lines to export, then "ready"; stops on SIGTERM',
    )
    .addOption(
      new Option('--port <port>', 'TCP port on 127.0.0.1 (0 = any free port)')
        .argParser(wholeNumber)
        .default(0),
    )
    .option('--dir <dir>', 'where file contents are kept (default: a temp dir removed on exit)')
    .addOption(new Option('--latency <ms>', 'delay added to every answer').argParser(wholeNumber))
    .addOption(new Option('--bandwidth <mbit>', 'per-connection bandwidth cap').argParser(wholeNumber))
    .addOption(
      new Option(
        '--upload-request-ms <ms>',
        'server time on each upload request before its answer (a Drive-like link, e.g. 150)',
      ).argParser(wholeNumber),
    )
    .option(
      '--public-url <url>',
      'API root clients see, for session URIs (e.g. https://www.googleapis.com/ behind a TLS proxy)',
    )
    .option('--faults <spec>', 'fault rules, e.g. "upload.chunk:reset@3;files.list:503%20"')
    .action(async (options: Record<string, unknown>) => {
      await runSandboxCommand(
        {
          port: options.port as number,
          ...(typeof options.dir === 'string' ? { dir: options.dir } : {}),
          ...(options.latency === undefined ? {} : { latencyMs: options.latency as number }),
          ...(options.bandwidth === undefined ? {} : { bandwidthMbit: options.bandwidth as number }),
          ...(options.uploadRequestMs === undefined
            ? {}
            : { uploadRequestMs: options.uploadRequestMs as number }),
          ...(typeof options.publicUrl === 'string' ? { publicUrl: options.publicUrl } : {}),
          ...(typeof options.faults === 'string' ? { faults: options.faults } : {}),
        },
        process.stdout,
      );
    });
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'Sandbox + service + a generated Plesk-style backup and restore through the HTTP API, verified, with a summary',
    )
    .addOption(
      new Option('--size-mib <mib>', 'size of the generated backup in MiB')
        .argParser(wholeNumber)
        .default(300),
    )
    .addOption(
      new Option('--piece-size <bytes>', 'bytes per appendFile piece (Plesk: 100 MiB)').argParser(
        positiveByteCount,
      ),
    )
    .action(async (options: Record<string, unknown>) => {
      await runDemo({
        sizeMib: options.sizeMib as number,
        ...(options.pieceSize === undefined ? {} : { pieceSize: options.pieceSize as number }),
        out: process.stdout,
      });
    });
}
