// Evaluates a GitHub Actions expression with GitHub's own parser and evaluator
// (@actions/expressions), the way a job's `if:` is decided.
// Usage: node actions_expression.mjs EXPRESSIONS_DIST_DIR
// stdin: {"expression": "...", "context": {"github": {...}}}; stdout: true or false.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const dist = process.argv[2];
const { Evaluator, Lexer, Parser, data } = await import(pathToFileURL(`${dist}/index.js`));
const { truthy } = await import(pathToFileURL(`${dist}/result.js`));

const { expression, context } = JSON.parse(readFileSync(0, "utf8"));
const lexed = new Lexer(expression).lex();
const parsed = new Parser(lexed.tokens, Object.keys(context), []).parse();
const contextData = JSON.parse(JSON.stringify(context), data.reviver);
process.stdout.write(String(truthy(new Evaluator(parsed, contextData).evaluate())));
