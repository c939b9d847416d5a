/** `bench`: the connector held against rclone (connector/bench/bench.ts); `npm run bench` runs it. */
import { Command, Option } from 'commander';
import { runBench } from '../../bench/bench.js';
import { wholeNumber, withExamples } from '../options.js';

export function benchCommand(): Command {
  const command = new Command('bench')
    .description(
      'Measure the connector against rclone on the sandbox (plain, shaped and Drive-like links): speed, CPU, memory, PHP round trip, package size, Drive requests per file',
    )
    .addOption(
      new Option('--size-mib <mib>', 'file size of the throughput runs (default 512)').argParser(wholeNumber),
    )
    .addOption(
      new Option('--memory-mib <mib>', 'the large backup of the memory run (default 4096)').argParser(
        wholeNumber,
      ),
    )
    .addOption(
      new Option('--runs <n>', 'runs per contender, medians taken (default 3, quick 1)').argParser(
        wholeNumber,
      ),
    )
    .option('--package <zip>', 'extension package to weigh (default dist/gdrive-backup-<version>.zip)')
    .option('--quick', 'small sizes, one run: proves the suite runs, figures mean little')
    .option('--json <file>', 'also write every figure as JSON to this file');
  withExamples(
    command,
    'gdrive-backup bench --quick',
    'gdrive-backup bench --json bench.json',
    'gdrive-backup bench --size-mib 256 --memory-mib 1024 --runs 1',
  );
  return command.action(async (options: Record<string, unknown>) => {
    try {
      await runBench({
        ...(options.sizeMib === undefined ? {} : { sizeMib: options.sizeMib as number }),
        ...(options.memoryMib === undefined ? {} : { memoryMib: options.memoryMib as number }),
        quick: options.quick === true,
        ...(options.runs === undefined ? {} : { runs: Math.max(1, options.runs as number) }),
        ...(typeof options.package === 'string' ? { packageFile: options.package } : {}),
        ...(typeof options.json === 'string' ? { jsonFile: options.json } : {}),
        out: process.stdout,
      });
    } catch (error) {
      // The bench's failures are its own (a child that died, a transfer that went wrong): say
      // exactly what, not the catalogue's generic sentence.
      process.stderr.write(
        `error: the benchmark failed: ${error instanceof Error ? error.message : String(error)}
`,
      );
      process.exitCode = 1;
    }
  });
}
