/**
 * What the real Azure Functions host sees when it loads our built entry files.
 *
 * `@azure/functions` (v4, CommonJS) `require`s the host's own module `@azure/functions-core`;
 * outside the host that fails, the library switches to "test mode" and silently skips every
 * registration. Here we stand in for that one module (and nothing else — our code and the
 * library run for real) by wrapping Node's `Module._load`, then import `dist/functions/*.js`
 * exactly as the host would (the `main` glob) and record every `registerFunction` call.
 *
 * The test builds nothing: `npm test` runs `tsc -p .` first.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const builtDir = join(root, 'dist', 'functions');
const sourceDir = join(root, 'functions');

/** The built entry files, enumerated so that a new function file is covered automatically. */
function builtEntryFiles(): string[] {
  if (!existsSync(builtDir)) {
    throw new Error(`${builtDir} is missing: run npm run build first (npm test builds before running vitest)`);
  }
  return readdirSync(builtDir)
    .filter((file) => file.endsWith('.js'))
    .sort()
    .map((file) => join(builtDir, file));
}

/** What `@azure/functions` hands to the host for one function (its `toCoreFunctionMetadata`). */
interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
  retryOptions?: unknown;
}

interface Registration {
  metadata: CoreFunctionMetadata;
  callback: unknown;
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
const loader = Module as unknown as { _load: Load };

const registrations: Registration[] = [];
const programmingModels: unknown[] = [];

class StandInDisposable {
  #onDispose: (() => void) | undefined;
  constructor(onDispose: () => void) {
    this.#onDispose = onDispose;
  }
  dispose(): void {
    this.#onDispose?.();
    this.#onDispose = undefined;
  }
}

/** Stand-in for the host's `@azure/functions-core`, recording what the library registers. */
const functionsCore = {
  version: '3.10.1',
  hostVersion: '4.1036.0',
  Disposable: StandInDisposable,
  registerFunction(metadata: CoreFunctionMetadata, callback: unknown): StandInDisposable {
    registrations.push({ metadata: structuredClone(metadata), callback });
    return new StandInDisposable(() => undefined);
  },
  registerHook(_hookName: string, _callback: unknown): StandInDisposable {
    return new StandInDisposable(() => undefined);
  },
  setProgrammingModel(model: unknown): void {
    programmingModels.push(model);
  },
  getProgrammingModel(): unknown {
    return programmingModels.at(-1);
  },
};

const originalLoad = loader._load;

function registrationOf(name: string): Registration {
  const found = registrations.filter((r) => r.metadata.name === name);
  expect(found, `registerFunction calls for "${name}"`).toHaveLength(1);
  return found[0]!;
}

/** A binding named by the library from a hash of its data, e.g. `httpTriggerac4f99e276`. */
const generatedName = (prefix: string): unknown => expect.stringMatching(new RegExp(`^${prefix}[0-9a-f]{10}$`));

/** The trigger binding of `metadata`, checking the library keyed it by its own `name`. */
function triggerOf(metadata: CoreFunctionMetadata): [string, Record<string, unknown>] {
  const inputs = Object.entries(metadata.bindings).filter(([, binding]) => binding.direction === 'in');
  expect(inputs, `input bindings of "${metadata.name}"`).toHaveLength(1);
  const [key, binding] = inputs[0]!;
  expect(binding.name).toBe(key);
  return [key, binding];
}

describe('the built function entry files, as loaded by the Azure Functions host', () => {
  beforeAll(async () => {
    const files = builtEntryFiles();
    loader._load = function (this: unknown, request: string, parent: unknown, isMain: boolean): unknown {
      if (request === '@azure/functions-core') return functionsCore;
      return originalLoad.call(this, request, parent, isMain);
    };
    for (const file of files) {
      await import(pathToFileURL(file).href);
    }
    if (registrations.length === 0) {
      throw new Error(
        '@azure/functions never called registerFunction: the @azure/functions-core stand-in was not reached ' +
          '(was @azure/functions loaded, and left in test mode, before the interceptor was installed?)',
      );
    }
  });

  afterAll(() => {
    loader._load = originalLoad;
  });

  it('declares every built file under dist/functions as the package entry point', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: unknown };
    expect(pkg.main).toBe('dist/functions/*.js');
  });

  it('has a built counterpart for every function source file', () => {
    const sources = readdirSync(sourceDir)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
      .map((file) => basename(file, '.ts'));
    const built = builtEntryFiles().map((file) => basename(file, '.js'));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(built, `dist/functions/${source}.js (run npm run build first)`).toContain(source);
    }
  });

  it('hands the host the @azure/functions programming model exactly once', () => {
    expect(programmingModels).toHaveLength(1);
    expect(programmingModels[0]).toMatchObject({ name: '@azure/functions', version: expect.any(String) });
  });

  it('registers exactly the functions badge, checkTenant, dashboard, evaluateHeartbeats, health, heartbeat, history, metrics, probeEndpoints, roundTrip and status, each once', () => {
    const names = registrations.map((r) => r.metadata.name).sort();
    expect(names).toEqual(['badge', 'checkTenant', 'dashboard', 'evaluateHeartbeats', 'health', 'heartbeat', 'history', 'metrics', 'probeEndpoints', 'roundTrip', 'status']);
  });

  it('registers a callable handler with every function', () => {
    for (const { metadata, callback } of registrations) {
      expect(typeof callback, `callback of "${metadata.name}"`).toBe('function');
    }
  });

  it.each([
    { fn: 'probeEndpoints', setting: 'WBMON_PROBE_SCHEDULE' },
    { fn: 'evaluateHeartbeats', setting: 'WBMON_EVALUATE_SCHEDULE' },
    { fn: 'checkTenant', setting: 'WBMON_TENANT_SCHEDULE' },
    { fn: 'roundTrip', setting: 'WBMON_ROUNDTRIP_SCHEDULE' },
  ])('registers $fn with a single timer trigger on the %$setting% app setting', ({ fn, setting }) => {
    const { metadata } = registrationOf(fn);
    const [key] = triggerOf(metadata);
    expect(metadata).toEqual({
      name: fn,
      bindings: {
        [key]: {
          type: 'timerTrigger',
          direction: 'in',
          name: generatedName('timerTrigger'),
          schedule: `%${setting}%`,
          properties: { supportsDeferredBinding: 'false' },
        },
      },
    });
  });

  it.each([
    { fn: 'status', method: 'GET', authLevel: 'function' },
    { fn: 'health', method: 'GET', authLevel: 'anonymous' },
    { fn: 'heartbeat', method: 'POST', authLevel: 'function' },
    { fn: 'history', method: 'GET', authLevel: 'function' },
    { fn: 'metrics', method: 'GET', authLevel: 'function' },
    { fn: 'dashboard', method: 'GET', authLevel: 'function' },
    { fn: 'badge', method: 'GET', authLevel: 'function', route: 'badge/{*name}' },
  ])('registers $fn as a $method-only http trigger on its route with auth level $authLevel, answering through $return', ({ fn, method, authLevel, route }) => {
    const { metadata } = registrationOf(fn);
    const [key] = triggerOf(metadata);
    expect(metadata).toEqual({
      name: fn,
      bindings: {
        [key]: {
          type: 'httpTrigger',
          direction: 'in',
          name: generatedName('httpTrigger'),
          methods: [method],
          authLevel,
          route: route ?? fn,
          properties: { supportsDeferredBinding: 'false' },
        },
        $return: { type: 'http', direction: 'out', name: generatedName('httpOutput') },
      },
    });
  });
});

describe('the health function', () => {
  it('answers 200 with {ok: true}', async () => {
    const file = join(builtDir, 'health.js');
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
    const { health } = (await import(pathToFileURL(file).href)) as typeof import('../functions/health.js');
    const response = await health();
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({ ok: true });
  });
});
