import { formatDuration } from './duration';

/**
 * Limits sharing a name within one set (a rule's, or an override's): limits
 * are stored under their names, a window's (`1h`) by default, so two with
 * one name would share a counter. Each later duplicate's index and why.
 *
 * @example duplicateLimitNames([{ window: 3_600_000 }, { name: '1h', window: 60_000 }]) // [{ index: 1, message: 'duplicate limit name "1h"' }]
 */
export function duplicateLimitNames(
  limits: ReadonlyArray<{ readonly name?: string | undefined; readonly window: unknown }>,
): Array<{ index: number; message: string }> {
  const names = new Set<string>();
  const duplicates: Array<{ index: number; message: string }> = [];
  limits.forEach((limit, index) => {
    const name = limit.name ?? (typeof limit.window === 'number' ? formatDuration(limit.window) : '');
    if (!name) return;
    if (names.has(name))
      duplicates.push({
        index,
        message: limit.name
          ? `duplicate limit name "${name}"`
          : `another limit is already named "${name}" after its window: give these limits distinct names`,
      });
    names.add(name);
  });
  return duplicates;
}
