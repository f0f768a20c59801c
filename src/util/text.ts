// Small text helpers shared by the error messages.

/** The last `n` lines of a command's output, for an error message. */
export function lastLines(text: string, n = 3): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
