// Hostile and unusual scenario input: image references, encodings, YAML aliases and nesting, and
// checks between fields reported together with everything else.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodingProblem, loadScenarios, parseScenario, ScenarioValidationError } from "../../src/scenario/load.js";
import { imageRefProblem } from "../../src/scenario/schema.js";

const DOC = "name: x\nimage: {style: exec}\n";

function issuesOf(content: string | Uint8Array): Array<{ field: string; message: string }> {
  try {
    parseScenario("x.yaml", content);
  } catch (e) {
    if (e instanceof ScenarioValidationError) return e.issues.map(({ field, message }) => ({ field, message }));
    throw e;
  }
  return [];
}

describe("image references (Docker's grammar, no :latest)", () => {
  it.each([
    "nginx",
    "nginx:1.25",
    "library/nginx:1.25-alpine",
    "docker.io/library/nginx:1.25",
    "registry.local:5000/my/app:1.4",
    "localhost:5000/team/app_x__y.z-w:v1.2.3_rc",
    "Registry.Example.COM/app:1",
    "[::1]:5000/app:1",
    `app@sha256:${"a".repeat(64)}`,
    `app:latest@sha256:${"0".repeat(64)}`,
    `app:${"t".repeat(128)}`,
  ])("accepts %s", (ref) => {
    expect(imageRefProblem(ref)).toBeUndefined();
  });

  it.each([
    ["foo; touch pwned", /";" is not allowed/],
    ["my app:1", /" " is not allowed/],
    ["app:1\n", /"\\n" is not allowed/],
    ["$(id):1", /"\$" is not allowed/],
    ["MyApp:1", /repository name must be lower-case \("MyApp"\)/],
    ["registry.local/Team/app:1", /lower-case \("Team\/app"\)/],
    ["app:latest", /fixed tag, not :latest/],
    ["app:", /not a valid image reference/],
    [":1", /not a valid image reference/],
    ["-app:1", /not a valid image reference/],
    ["app..x:1", /not a valid image reference/],
    ["app:-1", /not a valid image reference/],
    [`app:${"t".repeat(129)}`, /not a valid image reference/],
    ["app@sha256:abc", /not a valid image reference/],
    [`${"a/".repeat(128)}b:1`, /longer than 255/],
  ])("refuses %j", (ref, reason) => {
    expect(imageRefProblem(ref)).toMatch(reason);
  });

  it("is reported on image.ref", () => {
    expect(issuesOf("name: x\nimage: {ref: 'foo; touch pwned'}\n")).toEqual([
      { field: "image.ref", message: expect.stringMatching(/^not a valid image reference: ";" is not allowed/) },
    ]);
  });

  it("stays fast on long hostile input", () => {
    const started = performance.now();
    for (const ref of ["a-".repeat(400), `${"a.".repeat(400)}/`, `${"a-a".repeat(300)}!`]) imageRefProblem(ref);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("encodings", () => {
  const utf8 = Buffer.from(DOC, "utf8");

  it("accepts UTF-8 with or without a byte order mark, as bytes or as text", () => {
    expect(issuesOf(utf8)).toEqual([]);
    expect(issuesOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]))).toEqual([]);
    expect(issuesOf(`\ufeff${DOC}`)).toEqual([]);
    expect(parseScenario("x.yaml", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8])).scenario.name).toBe("x");
  });

  it("names UTF-16 (either byte order, with or without a byte order mark) and UTF-32", () => {
    const le = Buffer.from(`\ufeff${DOC}`, "utf16le");
    const be = Buffer.from(le).swap16();
    const noBom = Buffer.from(DOC, "utf16le");
    for (const bytes of [le, be, noBom]) {
      expect(encodingProblem(bytes)).toBe("not UTF-8 text (looks like UTF-16): save it as UTF-8");
      expect(issuesOf(bytes)).toEqual([{ field: "", message: "not UTF-8 text (looks like UTF-16): save it as UTF-8" }]);
    }
    // What a caller that decoded it as UTF-8 passes (replacement characters and NULs).
    expect(issuesOf(le.toString("utf8"))[0]?.message).toMatch(/looks like UTF-16/);
    expect(encodingProblem(Buffer.from([0xff, 0xfe, 0, 0, 0x6e, 0, 0, 0]))).toMatch(/looks like UTF-32/);
  });

  it("points at the first line that is not UTF-8 (e.g. Latin-1)", () => {
    const latin1 = Buffer.from(`${DOC}description: caf\xe9\n`, "latin1");
    expect(issuesOf(latin1)).toEqual([
      { field: "", message: "not UTF-8 text (invalid byte sequence at line 3; another encoding?): save it as UTF-8" },
    ]);
  });

  it("a stray NUL byte", () => {
    expect(encodingProblem(Buffer.from(`${DOC}description: a\0b\n`))).toMatch(/NUL bytes at line 3/);
  });

  it("loadScenarios reads bytes: a UTF-16 file is one clear line among the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scenario-input-"));
    writeFileSync(join(dir, "a.yaml"), Buffer.from(`\ufeff${DOC}`, "utf16le"));
    writeFileSync(join(dir, "b.yaml"), "name: b\nimage: {style: exec}\nreplicas: 0\n");
    writeFileSync(join(dir, "c.yaml"), `\ufeffname: c\nimage: {style: exec}\n`);
    const err = await loadScenarios([dir]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioValidationError);
    expect((err as ScenarioValidationError).message.split("\n")).toEqual([
      `${join(dir, "a.yaml")}: (document): not UTF-8 text (looks like UTF-16): save it as UTF-8`,
      `${join(dir, "b.yaml")}: replicas: Too small: expected number to be >=1`,
    ]);
  });
});

describe("YAML aliases and nesting", () => {
  function bomb(levels: number): string {
    let text = `${DOC}x0: &x0 [lol, lol]\n`;
    for (let i = 1; i <= levels; i++) text += `x${i}: &x${i} [*x${i - 1}, *x${i - 1}]\n`;
    return text;
  }

  it("an alias bomb is one clear line, not the library's stack trace", () => {
    const started = performance.now();
    expect(issuesOf(bomb(40))).toEqual([
      { field: "", message: "YAML: too many alias expansions (an alias bomb?): write the values out" },
    ]);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("ordinary use of anchors and aliases still works", () => {
    const text = "name: x\nimage: {style: exec}\nload: &l {connections: 4}\ntags: &t [a, b]\nx-a: *l\nx-b: *t\n";
    expect(issuesOf(text).map((i) => i.field)).toEqual(["x-a", "x-b"]); // unknown fields, but parsed
    const { scenario } = parseScenario(
      "x.yaml",
      "name: x\nimage: {style: exec}\nenv: &e {A: 1}\nexpectations: {sigterm: &s {app: true}, backends: {local: {sigterm: *s}}}\n",
    );
    expect(scenario.expectations.backends?.local?.sigterm).toEqual({ app: true });
  });

  it("absurd nesting is one clear line", () => {
    const text = `${DOC}tags: ${"[".repeat(50_000)}${"]".repeat(50_000)}\n`;
    expect(issuesOf(text)).toEqual([{ field: "", message: "YAML: nested too deeply" }]);
  });
});

describe("checks between fields", () => {
  it("are reported with every other problem, even after an aborting one (a non-integer)", () => {
    const issues = issuesOf(
      "name: x\nimage: {style: exec}\nreplicas: 1\nlocal: {endpointAddDelayMs: 1.5}\n" +
        "disruption: {action: delete, count: 2}\nexpectations: {minFailedRequests: 3, maxFailedRequests: 1}\n",
    );
    expect(issues.map((i) => i.field)).toEqual([
      "local.endpointAddDelayMs",
      "disruption.count",
      "expectations.minFailedRequests",
    ]);
  });

  it("take defaults into account (replicas 2, count 1) and skip what is unreadable", () => {
    expect(issuesOf(`${DOC}disruption: {action: delete, count: 3}\n`)).toEqual([
      { field: "disruption.count", message: "deletes 3 pods but replicas is 2" },
    ]);
    expect(issuesOf(`${DOC}replicas: 1\n`)).toEqual([]);
    expect(issuesOf(`${DOC}replicas: two\ndisruption: {action: delete, count: 3}\n`).map((i) => i.field)).toEqual([
      "replicas",
    ]);
    expect(issuesOf(`${DOC}disruption: {action: scaleDown, to: 1}\n`)).toEqual([]);
    expect(issuesOf(`${DOC}replicas: 2\ndisruption: {action: delete, count: 2}\n`)).toEqual([]);
  });

  it("the new fields: ranges and the delete-only victims", () => {
    expect(issuesOf(`${DOC}load: {freshConnectionIntervalMs: 0, warmUpSeconds: 0}\n`)).toEqual([]);
    expect(issuesOf(`${DOC}load: {warmUpSeconds: 301}\n`)[0]?.field).toBe("load.warmUpSeconds");
    expect(issuesOf(`${DOC}local: {endpointAddDelayMs: 60001}\n`)[0]?.field).toBe("local.endpointAddDelayMs");
    expect(issuesOf(`${DOC}disruption: {action: delete, victims: first}\n`)).toEqual([]);
    expect(issuesOf(`${DOC}disruption: {action: rollout, victims: first}\n`)[0]?.field).toBe("disruption.victims");
  });
});
