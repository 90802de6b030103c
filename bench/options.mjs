/** A numeric command-line option of the bench scripts: `--name N`, or `fallback` when absent. */
export function numberOption(name, fallback, argv = process.argv.slice(2)) {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number, got ${argv[at + 1] ?? 'nothing'}`);
  return value;
}
