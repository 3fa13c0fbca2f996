import { z } from 'zod';
import { ApiError } from '@switchyard/web';

/** Parses a request part with a zod schema; a failure is a 400 naming each bad field. */
export function parse<T extends z.ZodTypeAny>(schema: T, value: unknown, what = 'body'): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => ({ field: i.path.join('.') || what, message: i.message }));
  throw new ApiError(400, 'validation_failed', problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems);
}

export const uuid = z.string().uuid('must be a UUID');

/**
 * An ISO-8601 date-time with an offset (`Z`, `+05:30`) that names an instant. zod's datetime check takes any two
 * digits as the offset's hours and minutes (`+99:99`, `-24:00`), which name none: as a Date it was Invalid and
 * reached Postgres as `0NaN-NaN-…`, a 500.
 */
export const isoDateTime = (message = 'must be an ISO-8601 date-time') =>
  z
    .string()
    .datetime({ offset: true, message })
    .refine((v) => !Number.isNaN(Date.parse(v)), message);

/** Path ids: a malformed id cannot exist, so it is a 404 like any unknown id. */
export function pathId(value: string, what: string): string {
  if (!uuid.safeParse(value).success) throw ApiError.notFound(what);
  return value;
}
