/** Every settings problem at once, one line each, naming the setting. The CLI exits 2 on it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}
