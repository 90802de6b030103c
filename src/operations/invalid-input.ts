import type { z } from 'zod';
import { issuesOf } from '../overrides/entries';

/**
 * Input an operator operation refuses: the field at fault (as the JSON API
 * names it: `rule`, `limits.0.limit`, `(body)`) and why. Both faces turn it
 * into their own answer: a 400 with `{error, field}`, or the message beside
 * the form field.
 */
export class InvalidInput extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly field: string,
    message: string,
    /** The message without the field's name, for a face that shows it beside the field. */
    readonly reason: string = message,
  ) {
    super(message);
  }

  /** The first field a zod error names, with every issue in the message. */
  static fromZod(error: z.ZodError): InvalidInput {
    return new InvalidInput(400, error.issues[0]!.path.join('.') || '(body)', issuesOf(error).join('; '), error.issues[0]!.message);
  }
}
