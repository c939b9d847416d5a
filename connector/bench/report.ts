/** The benchmark's printed form: aligned tables and one verdict line per target. */

export type Cell = string | number | null;

/** Decimals a number needs, up to 2 (figures are rounded before they get here). */
function decimalsOf(cell: Cell): number {
  if (typeof cell !== 'number') return 0;
  for (let d = 0; d < 2; d++) if (Math.abs(cell * 10 ** d - Math.round(cell * 10 ** d)) < 1e-9) return d;
  return 2;
}

function show(cell: Cell, decimals: number): string {
  if (cell === null) return 'n/a';
  if (typeof cell === 'number') return cell.toFixed(decimals);
  return cell;
}

/** A title, then columns padded to their widest cell (numbers right-aligned). */
export function table(title: string, headers: string[], rows: Cell[][]): string {
  // One number of decimals per column, so figures line up on the point.
  const decimals = headers.map((_, i) => Math.max(0, ...rows.map((row) => decimalsOf(row[i] ?? null))));
  const text = rows.map((row) => row.map((cell, i) => show(cell, decimals[i]!)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[], numeric: boolean[]) =>
    `  ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')}`.trimEnd();
  const numericColumns = headers.map((_, i) => rows.every((row) => typeof row[i] !== 'string'));
  return [
    title,
    line(headers, numericColumns),
    line(
      widths.map((w) => '-'.repeat(w)),
      numericColumns,
    ),
    ...text.map((row) => line(row, numericColumns)),
    '',
  ].join('\n');
}

export interface Verdict {
  target: string;
  /** The measured figure, as printed. */
  measured: string;
  ok: boolean;
}

export function verdictLines(verdicts: Verdict[]): string {
  const width = Math.max(...verdicts.map((v) => v.target.length));
  return verdicts
    .map((v) => `  ${v.ok ? 'ok          ' : 'BELOW TARGET'}  ${v.target.padEnd(width)}  ${v.measured}`)
    .join('\n');
}
