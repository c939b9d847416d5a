/** `bench`: the speed and memory benchmark (connector/bench/bench.ts); `npm run bench` runs it. */
import { Command, Option } from 'commander';
import { runBench } from '../../bench/bench.js';
import { wholeNumber, withExamples } from '../options.js';

export function benchCommand(): Command {
  const command = new Command('bench')
    .description(
      'Measure upload/download speed against the raw wire, chunk sizes, memory and Drive requests per file (sandbox, local)',
    )
    .addOption(
      new Option('--size-mib <mib>', 'largest file of the memory scenario; transfers use half of it')
        .argParser(wholeNumber)
        .default(512),
    )
    .addOption(
      new Option('--runs <n>', 'best of how many runs on localhost (default 2, quick 1)').argParser(
        wholeNumber,
      ),
    )
    .option('--quick', 'small sizes, one run: proves the suite runs, figures mean little')
    .option('--json <file>', 'also write every figure as JSON to this file');
  withExamples(
    command,
    'gdrive-backup bench --quick',
    'gdrive-backup bench --size-mib 1024 --json bench.json',
  );
  return command.action(async (options: Record<string, unknown>) => {
    try {
      await runBench({
        sizeMib: options.sizeMib as number,
        quick: options.quick === true,
        ...(options.runs === undefined ? {} : { runs: Math.max(1, options.runs as number) }),
        ...(typeof options.json === 'string' ? { jsonFile: options.json } : {}),
        out: process.stdout,
      });
    } catch (error) {
      // The bench's failures are its own (a child that died, a transfer that went wrong): say
      // exactly what, not the catalogue's generic sentence.
      process.stderr.write(
        `error: the benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  });
}
