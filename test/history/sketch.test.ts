import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDuration,
  bucketIndex,
  BUCKET_COUNT,
  EMPTY_SKETCH,
  MAX_MS,
  mergeSketches,
  MIN_MS,
  quantile,
  readSketch,
  RELATIVE_ERROR,
  sketchCount,
  type Sketch,
} from '../../src/history/sketch.js';
import { logNormal, nearestRank, seeded } from './support.js';

const sketchOf = (values: readonly number[]): Sketch => values.reduce(addDuration, EMPTY_SKETCH);
/** The documented bound, with room for floating-point rounding at a bucket's exact edge. */
const withinError = (estimate: number, exact: number): boolean => Math.abs(estimate - exact) <= RELATIVE_ERROR * exact * (1 + 1e-9);

describe('duration sketch', () => {
  it('reports p50, p95 and p99 of 10,000 log-normal durations within its documented 2 % relative error', () => {
    const random = seeded(16);
    const samples = Array.from({ length: 10_000 }, () => logNormal(random, 180, 0.6));
    const sketch = sketchOf(samples);
    expect(sketchCount(sketch)).toBe(10_000);
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]) {
      const estimate = quantile(sketch, q)!;
      const exact = nearestRank(samples, q);
      expect(withinError(estimate, exact), `q=${q}: ${estimate} vs ${exact}`).toBe(true);
    }
  });

  it('keeps the error bound for any durations in its range and any quantile (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: MIN_MS * 1.0001, max: MAX_MS, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0.001, max: 1, noNaN: true }),
        (samples, q) => withinError(quantile(sketchOf(samples), q)!, nearestRank(samples, q)),
      ),
      { numRuns: 300, seed: 16 },
    );
  });

  it('puts sub-0.1 ms, zero, negative and NaN durations in its first bucket and caps durations beyond 10 minutes', () => {
    const tiny = sketchOf([0, 0.05, -3, Number.NaN]);
    expect(tiny).toEqual({ first: 0, counts: [4] });
    expect(quantile(tiny, 0.5)).toBeLessThanOrEqual(MIN_MS);
    const huge = sketchOf([MAX_MS * 10, Number.POSITIVE_INFINITY]);
    expect(huge.first).toBe(BUCKET_COUNT - 1);
    expect(withinError(quantile(huge, 0.5)!, MAX_MS)).toBe(true);
  });

  it('merges exactly: the sketch of two sets merged is the sketch of their union, whichever comes first', () => {
    const random = seeded(7);
    const a = Array.from({ length: 500 }, () => logNormal(random, 40, 1));
    const b = Array.from({ length: 300 }, () => logNormal(random, 900, 0.3));
    expect(mergeSketches(sketchOf(a), sketchOf(b))).toEqual(sketchOf([...a, ...b]));
    expect(mergeSketches(sketchOf(b), sketchOf(a))).toEqual(sketchOf([...b, ...a]));
    expect(mergeSketches(EMPTY_SKETCH, sketchOf(a))).toEqual(sketchOf(a));
  });

  it('never grows past its fixed number of buckets, however many durations go in', () => {
    const random = seeded(3);
    let sketch = EMPTY_SKETCH;
    for (let i = 0; i < 100_000; i++) sketch = addDuration(sketch, MIN_MS * (MAX_MS / MIN_MS) ** random());
    expect(sketch.counts.length).toBeLessThanOrEqual(BUCKET_COUNT);
    expect(BUCKET_COUNT).toBe(392);
    expect(sketchCount(sketch)).toBe(100_000);
  });

  it('answers null for an empty sketch', () => {
    expect(quantile(EMPTY_SKETCH, 0.5)).toBeNull();
  });

  it('orders bucket indexes with the durations and changes bucket only at the documented edges', () => {
    expect(bucketIndex(MIN_MS)).toBe(0);
    expect(bucketIndex(MIN_MS * 1.0000001)).toBe(1);
    let previous = 0;
    for (let ms = 0.05; ms < MAX_MS; ms *= 1.01) {
      const index = bucketIndex(ms);
      expect(index).toBeGreaterThanOrEqual(previous);
      previous = index;
    }
  });

  it('reads back stored sketches and refuses what is not one', () => {
    expect(readSketch({ first: 3, counts: [0, 2, 0, 1, 0] })).toEqual({ first: 4, counts: [2, 0, 1] });
    expect(readSketch({ first: 3, counts: [0, 0] })).toEqual(EMPTY_SKETCH);
    for (const junk of [null, 'x', { first: -1, counts: [1] }, { first: 0, counts: [1.5] }, { first: 0, counts: [-1] }, { first: BUCKET_COUNT, counts: [1] }, { first: 0 }]) {
      expect(readSketch(junk)).toBeUndefined();
    }
  });
});
