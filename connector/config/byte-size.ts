/**
 * The one parser of byte sizes, for settings (GDRIVE_CHUNK_SIZE=16MiB) and CLI flags
 * (--piece-size 100MiB) alike: expressjs's `bytes`, which reads every unit as a power of 1024
 * (kb = 1024, mb = 1024^2 ..., as rclone's sizes do). It knows `kb`..`pb`; the IEC spellings
 * (KiB, MiB) mean the same here, and a bare K/M/G/T/P is its `b` unit, so both are brought to
 * the spelling `bytes` reads before it parses.
 */
import bytes from 'bytes';

export const BYTE_SIZE_ACCEPTS =
  'bytes, or a number with K, M, G or T (KiB, MiB, ... 1024-based; e.g. 16MiB)';

const SHAPE = /^(\d+(?:\.\d+)?) *(?:([kmgtp])(?:i?b)?|b)?$/i;

/** Bytes of `raw`; throws an Error saying what is accepted. */
export function parseByteSize(raw: string): number {
  const match = SHAPE.exec(raw.trim());
  if (!match) throw new Error(`"${raw}" is not a size; accepted: ${BYTE_SIZE_ACCEPTS}`);
  const value = bytes.parse(`${match[1]}${match[2] ?? ''}b`);
  if (value === null || !Number.isSafeInteger(value)) throw new Error(`"${raw}" is too large`);
  return value;
}
