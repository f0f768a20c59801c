// The audit's readings of configuration without running anything: shell form, entrypoint scripts
// (the sample images' own), preStop hooks, IntOrString values, recognised servers and stop signals.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  effectiveArgv,
  isLoneSimpleCommand,
  looksLikeScript,
  readScript,
  resolveIntOrPercent,
  shellFormOf,
  shellFormVerdict,
  splitCommands,
} from "../../src/audit/command.js";
import { normalizeSignal, recognizeServer, stopsGracefully } from "../../src/inspect/servers.js";
import { preStopOf, sleepSeconds } from "../../src/k8s/prestop.js";

const IMAGES = join(import.meta.dirname, "../../images");
const script = (style: string) => readFileSync(join(IMAGES, style, "entrypoint.sh"), "utf8");

describe("shell form", () => {
  it("recognises sh -c and its flag variants, not a shell running a script", () => {
    expect(shellFormOf(["/bin/sh", "-c", "node /app/server.js"])).toEqual({
      shell: "sh",
      script: "node /app/server.js",
    });
    expect(shellFormOf(["bash", "-ec", "exec node x"])).toEqual({ shell: "bash", script: "exec node x" });
    expect(shellFormOf(["/bin/bash", "/app/entrypoint.sh"])).toBeUndefined();
    expect(shellFormOf(["node", "-c", "x"])).toBeUndefined();
  });

  it("splits command lists, respecting quotes", () => {
    expect(splitCommands("cd /app && exec node 'a;b' ; echo x")).toEqual(["cd /app", "exec node 'a;b'", "echo x"]);
    expect(isLoneSimpleCommand("node /app/server.js")).toBe(true);
    expect(isLoneSimpleCommand("node a | tee log")).toBe(false);
    expect(isLoneSimpleCommand("node a &")).toBe(false);
  });

  it("dash keeps a lone command as its child (measured), exec replaces it, bash execs a lone command", () => {
    expect(shellFormVerdict("sh", "node /app/server.js")).toMatchObject({
      shellStays: true,
      certainty: "likely",
      app: "node /app/server.js",
    });
    expect(shellFormVerdict("sh", "exec node /app/server.js")).toMatchObject({ shellStays: false });
    expect(shellFormVerdict("sh", "cd /app && exec node server.js")).toMatchObject({
      shellStays: false,
      app: "node server.js",
    });
    expect(shellFormVerdict("sh", "cd /app && node server.js")).toMatchObject({
      shellStays: true,
      app: "node server.js",
    });
    expect(shellFormVerdict("bash", "node server.js")).toMatchObject({ shellStays: false, certainty: "possible" });
  });

  it("names scripts by their look", () => {
    expect(looksLikeScript("/app/entrypoint.sh")).toBe(true);
    expect(looksLikeScript("docker-entrypoint.sh")).toBe(true);
    expect(looksLikeScript("/usr/local/bin/node")).toBe(false);
  });
});

describe("entrypoint scripts of the sample images", () => {
  it("trap: traps TERM, kills and waits", () => {
    expect(readScript(script("trap"))).toMatchObject({
      trapsTerm: true,
      kills: true,
      waits: true,
      backgrounds: true,
      execsLast: false,
    });
  });
  it("tini's script: background apps and wait, no trap", () => {
    expect(readScript(script("tini"))).toMatchObject({
      trapsTerm: false,
      kills: false,
      waits: true,
      backgrounds: true,
    });
  });
  it("script: a foreground child, no exec; exec: exec's the app", () => {
    expect(readScript(script("script"))).toMatchObject({ trapsTerm: false, execsLast: false, backgrounds: false });
    expect(readScript(script("exec"))).toMatchObject({ execsLast: true, trapsTerm: false });
  });
});

describe("preStop hooks and workload numbers", () => {
  it("reads sleep durations from the sleep action and exec hooks", () => {
    expect(preStopOf(undefined)).toEqual({ type: "none" });
    expect(preStopOf({ sleep: { seconds: 5 } })).toMatchObject({ type: "sleep", seconds: 5 });
    // The recorded kind 1.20 manifest (tests/fixtures/recordings): exec ["sleep", "3"].
    expect(preStopOf({ exec: { command: ["sleep", "3"] } })).toMatchObject({ type: "exec", seconds: 3 });
    expect(preStopOf({ exec: { command: ["/bin/sh", "-c", "sleep 5 && nginx -s quit"] } })).toMatchObject({
      seconds: 5,
    });
    expect(preStopOf({ exec: { command: ["/app/drain"] } })).not.toHaveProperty("seconds");
    expect(preStopOf({ httpGet: { path: "/drain", port: 8080 } })).toMatchObject({ type: "httpGet" });
    expect(sleepSeconds(["/bin/sleep", "1.5"])).toBe(1.5);
  });

  it("applies Kubernetes' command/args over the image's ENTRYPOINT/CMD", () => {
    const image = { entrypoint: ["tini", "--"], cmd: ["/app/entrypoint.sh"] };
    expect(effectiveArgv(image, {})).toEqual(["tini", "--", "/app/entrypoint.sh"]);
    expect(effectiveArgv(image, { args: ["node", "x"] })).toEqual(["tini", "--", "node", "x"]);
    expect(effectiveArgv(image, { command: ["node"] })).toEqual(["node"]);
    expect(effectiveArgv(image, { command: ["sh", "-c"], args: ["node x"] })).toEqual(["sh", "-c", "node x"]);
  });

  it("resolves IntOrString the way the controllers do (unavailable rounds down, surge up)", () => {
    expect(resolveIntOrPercent("25%", 1, false)).toBe(0);
    expect(resolveIntOrPercent("25%", 1, true)).toBe(1);
    expect(resolveIntOrPercent("100%", 3, false)).toBe(3);
    expect(resolveIntOrPercent(2, 3, false)).toBe(2);
    expect(resolveIntOrPercent(undefined, 3, false)).toBe(0);
  });
});

describe("servers and their graceful signals", () => {
  it("recognises rewritten and interpreter command lines", () => {
    expect(recognizeServer(["nginx: master process nginx"], "nginx")?.server).toBe("nginx");
    expect(recognizeServer(["apache2", "-DFOREGROUND"])?.graceful).toBe("SIGWINCH");
    const g = recognizeServer([
      "python3",
      "-m",
      "gunicorn",
      "--bind",
      "0.0.0.0:8080",
      "--graceful-timeout",
      "5",
      "app:app",
    ]);
    expect(g).toMatchObject({ server: "gunicorn", graceful: "SIGTERM", drain: { seconds: 5 } });
    expect(recognizeServer(["gunicorn", "app:app"])?.drain?.seconds).toBe(30);
    expect(recognizeServer(["python3", "-m", "uvicorn", "app:app"])?.server).toBe("uvicorn");
    expect(recognizeServer(["php-fpm: master process (/usr/local/etc/php-fpm.conf)"], "php-fpm8.2")?.graceful).toBe(
      "SIGQUIT",
    );
    expect(recognizeServer(["node", "/app/server.js"], "node")).toBeUndefined();
  });

  it("compares stop signals in any spelling", () => {
    expect(normalizeSignal("QUIT")).toBe("SIGQUIT");
    expect(normalizeSignal("15")).toBe("SIGTERM");
    expect(normalizeSignal(undefined)).toBe("SIGTERM");
    const nginx = recognizeServer(["nginx"]);
    expect(nginx && stopsGracefully(nginx, "SIGTERM")).toBe(false);
    expect(nginx && stopsGracefully(nginx, "quit")).toBe(true);
    const uvicorn = recognizeServer(["uvicorn", "app:app"]);
    expect(uvicorn && stopsGracefully(uvicorn, "SIGINT")).toBe(true);
  });
});
