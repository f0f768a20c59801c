// Errors that mean "the user must fix something before anything can start": exit code 2.
export class UsageError extends Error {
  override name = "UsageError";
}

/** A missing prerequisite (Docker engine down, kind missing...): says what to install or start. */
export class PrerequisiteError extends Error {
  override name = "PrerequisiteError";
}
