// Parses each file named on the command line with Mermaid's own parser and
// prints "FILE: error" for each that Mermaid rejects; exit status 1 if any.
// Mermaid needs a DOM even to parse: jsdom provides one.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

let bad = 0;
for (const file of process.argv.slice(2)) {
  try {
    await mermaid.parse(readFileSync(file, "utf8"));
  } catch (e) {
    bad++;
    console.log(`${file}: ${String(e.message ?? e).split("\n").join(" ")}`);
  }
}
process.exit(bad ? 1 : 0);
