#!/usr/bin/env node
// Entry point of the `graceful-e2e` command (kept apart so tests can import the CLI module).
import { main } from "./main.js";

process.exit(await main(process.argv));
