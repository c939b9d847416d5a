/**
 * Another process's memory and CPU, read from /proc (Linux, where the product runs). The peak
 * is the kernel's VmHWM, reset through clear_refs at the start of a measurement so it covers
 * that measurement only; where the reset is refused, VmRSS sampled every few ms stands in.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const MIB = 1024 * 1024;
/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux we run on. */
const CLOCK_TICKS = 100;

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? (Number(match[1]) * 1024) / MIB : null;
  } catch {
    return null;
  }
}

/** Resident set in MiB now, or null where /proc is missing. */
export function rssMib(pid: number): number | null {
  return statusField(pid, 'VmRSS');
}

/** User + system CPU seconds used so far, or null where /proc is missing. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * CPU seconds (user + system) of this process's children that have exited and been waited for
 * (cutime + cstime of /proc/self/stat): the whole CPU time of a command run to its end, which
 * sampling its own /proc entry would miss after it exits. Null where /proc is missing.
 */
export function childrenCpuSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** The peak RSS of a process over one measurement. */
export class PeakMeter {
  private sampled = 0;
  private hwmReset = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    try {
      // "5" resets the peak resident set size (VmHWM) to the current RSS.
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), 5);
  }

  private sample(): void {
    this.sampled = Math.max(this.sampled, rssMib(this.pid) ?? 0);
  }

  /** Stops sampling; the peak in MiB (null where /proc is missing). */
  stop(): number | null {
    clearInterval(this.timer);
    this.sample();
    const hwm = this.hwmReset ? statusField(this.pid, 'VmHWM') : null;
    const peak = Math.max(this.sampled, hwm ?? 0);
    return peak > 0 ? peak : null;
  }
}
