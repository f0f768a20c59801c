// External commands (kind, docker) for the kind and existing-cluster backends: argument arrays only,
// never a shell string. Injectable so tests can record the calls without running anything.
import { execa } from "execa";

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs `file` with `args`; rejects on a non-zero exit (CommandError) or a missing binary (code ENOENT). */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    /** "ENOENT" when the program is not installed. */
    readonly code?: string,
  ) {
    super(
      code === "ENOENT"
        ? `${file}: not found on PATH`
        : `${file} ${args.join(" ")} failed${exitCode === undefined ? "" : ` (exit ${exitCode})`}: ${stderr.trim().split("\n").slice(-5).join("\n")}`,
    );
  }
}

export const execaRunner: CommandRunner = async (file, args) => {
  const r = await execa(file, [...args], { reject: false, stdin: "ignore" });
  const stdout = String(r.stdout ?? "");
  const stderr = String(r.stderr ?? "");
  if (r.exitCode === 0) return { stdout, stderr };
  const code = (r as { code?: string }).code;
  throw new CommandError(file, args, r.exitCode, stderr || (r.shortMessage ?? ""), code);
};

export function isMissingBinary(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === "ENOENT";
}
