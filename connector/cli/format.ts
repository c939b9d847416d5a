/** Human-readable sizes and rates for the CLI's and the demo's output. */
const MIB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** MiB/s with one decimal; elapsed in ms (0 treated as 1 ms). */
export function mibPerSecond(bytes: number, elapsedMs: number): string {
  return (bytes / MIB / (Math.max(elapsedMs, 1) / 1000)).toFixed(1);
}
