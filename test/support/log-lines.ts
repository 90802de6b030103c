import { vi } from 'vitest';

/** The lines written with `console.log` (the limiter's JSON log lines) while `run` runs, kept off the test's output. */
export async function loggedLines(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines;
}
