/**
 * A fixed-size, mergeable duration sketch: a log-bucketed histogram (the DDSketch layout).
 *
 * Why not a list of samples: one check's history must fit a bounded number of store rows of
 * bounded size whatever the probe rate, and a daily bucket must be the exact sum of its hours.
 * Counts in logarithmic buckets give both: adding two sketches is adding their counts, and the
 * number of buckets is fixed by the range, not by how many values went in.
 *
 * Layout: bucket 0 holds every value from 0 to MIN_MS; bucket i >= 1 holds
 * (MIN_MS * GAMMA^(i-1), MIN_MS * GAMMA^i] and reports the point whose relative distance to
 * both ends is RELATIVE_ERROR. So a quantile read back is within RELATIVE_ERROR (2 %) of the
 * true nearest-rank sample for every value in (MIN_MS, MAX_MS], within MIN_MS / 2 below that,
 * and values above MAX_MS (10 min, longer than any probe's deadline) count as MAX_MS.
 *
 * Stored as the run of counts between the first and last non-empty bucket: a check's
 * durations cluster, so an hour of a steady probe is a handful of numbers, and even a sketch
 * with every bucket in use is BUCKET_COUNT numbers.
 */

/** The relative error of every quantile this sketch reports (see above). */
export const RELATIVE_ERROR = 0.02;
export const GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
/** Below this every duration is one bucket: timings are not that precise anyway. */
export const MIN_MS = 0.1;
/** Above this every duration counts as this long. */
export const MAX_MS = 600_000;
const LAST_INDEX = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GAMMA);
/** The most buckets a sketch can have (392). */
export const BUCKET_COUNT = LAST_INDEX + 1;

export interface Sketch {
  /** Index of the bucket counts[0] stands for. */
  readonly first: number;
  /** Counts of consecutive buckets; the first and last are non-zero (empty sketch: none). */
  readonly counts: readonly number[];
}

export const EMPTY_SKETCH: Sketch = Object.freeze({ first: 0, counts: Object.freeze([]) as readonly number[] });

export function bucketIndex(ms: number): number {
  // NaN, negative and tiny durations all land in the first bucket rather than being lost.
  if (!(ms > MIN_MS)) return 0;
  if (ms >= MAX_MS) return LAST_INDEX;
  return Math.min(LAST_INDEX, Math.max(1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GAMMA)));
}

/** The value a bucket reports: equally far, relatively, from both of its ends. */
export function bucketValue(index: number): number {
  if (index <= 0) return MIN_MS / 2;
  return (MIN_MS * 2 * GAMMA ** index) / (GAMMA + 1);
}

export function sketchCount(sketch: Sketch): number {
  let n = 0;
  for (const c of sketch.counts) n += c;
  return n;
}

/** A new sketch with one more value (sketches are values: the input is not changed). */
export function addDuration(sketch: Sketch, ms: number): Sketch {
  return addToBucket(sketch, bucketIndex(ms), 1);
}

function addToBucket(sketch: Sketch, index: number, count: number): Sketch {
  if (count <= 0) return sketch;
  if (sketch.counts.length === 0) return { first: index, counts: [count] };
  const first = Math.min(sketch.first, index);
  const last = Math.max(sketch.first + sketch.counts.length - 1, index);
  const counts = new Array<number>(last - first + 1).fill(0);
  sketch.counts.forEach((c, i) => (counts[sketch.first - first + i] = c));
  counts[index - first]! += count;
  return { first, counts };
}

/** The sketch of both inputs' values together: exact, so hours add up to their day. */
export function mergeSketches(a: Sketch, b: Sketch): Sketch {
  if (b.counts.length === 0) return a;
  if (a.counts.length === 0) return b;
  const first = Math.min(a.first, b.first);
  const last = Math.max(a.first + a.counts.length, b.first + b.counts.length) - 1;
  const counts = new Array<number>(last - first + 1).fill(0);
  a.counts.forEach((c, i) => (counts[a.first - first + i]! += c));
  b.counts.forEach((c, i) => (counts[b.first - first + i]! += c));
  return { first, counts };
}

/**
 * The q-quantile (0 < q <= 1) by nearest rank: the reported value of the bucket holding the
 * ceil(q * n)-th smallest value. Null for an empty sketch.
 */
export function quantile(sketch: Sketch, q: number): number | null {
  const n = sketchCount(sketch);
  if (n === 0) return null;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  let seen = 0;
  for (let i = 0; i < sketch.counts.length; i++) {
    seen += sketch.counts[i]!;
    if (seen >= rank) return bucketValue(sketch.first + i);
  }
  return bucketValue(sketch.first + sketch.counts.length - 1);
}

/**
 * A stored sketch as trusted input: integers only, in range, with its empty edges trimmed.
 * Undefined when it is not a sketch at all (a row written by something else).
 */
export function readSketch(value: unknown): Sketch | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { first, counts } = value as { first?: unknown; counts?: unknown };
  if (!Number.isSafeInteger(first) || !Array.isArray(counts)) return undefined;
  const start = first as number;
  if (start < 0 || start + counts.length > BUCKET_COUNT) return undefined;
  if (!counts.every((c) => Number.isSafeInteger(c) && (c as number) >= 0)) return undefined;
  let lo = 0;
  let hi = counts.length;
  while (lo < hi && counts[lo] === 0) lo++;
  while (hi > lo && counts[hi - 1] === 0) hi--;
  if (lo === hi) return EMPTY_SKETCH;
  return { first: start + lo, counts: (counts as number[]).slice(lo, hi) };
}
