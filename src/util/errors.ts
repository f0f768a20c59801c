// Errors that mean "the user must fix something before anything can start": exit code 2.
export class UsageError extends Error {
  override name = "UsageError";
}

/** A missing prerequisite (Docker engine down, kind missing...): says what to install or start. */
export class PrerequisiteError extends Error {
  override name = "PrerequisiteError";
}

/** An error's message (or the thrown value in words), for logs and reports. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** errorText(), or the Kubernetes API's own message when the error carries its response body. */
export function apiErrorText(err: unknown): string {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (body !== undefined && body !== null) {
    try {
      const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: unknown };
      if (typeof parsed?.message === "string" && parsed.message) return parsed.message;
    } catch {
      /* not JSON */
    }
  }
  return errorText(err);
}
