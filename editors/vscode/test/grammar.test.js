// Tokenises test/example.omp with the TextMate engine VS Code uses
// (vscode-textmate on the Oniguruma regular expressions of vscode-oniguruma)
// and checks the scope of every kind of token.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');

async function loadGrammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.omp') return null;
      const file = path.join(root, 'syntaxes', 'omp.tmLanguage.json');
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  return registry.loadGrammar('source.omp');
}

// tokens returns, line by line, each token's text and innermost scope.
async function tokens() {
  const grammar = await loadGrammar();
  const lines = fs.readFileSync(path.join(__dirname, 'example.omp'), 'utf8').split('\n');
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of lines) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) {
      const text = line.slice(t.startIndex, t.endIndex);
      if (text.trim() !== '') out.push([text, t.scopes[t.scopes.length - 1]]);
    }
    state = r.ruleStack;
  }
  return out;
}

test('every kind of token gets its scope', async () => {
  const got = await tokens();
  const scopeOf = (text, nth = 0) => {
    const hits = got.filter(([t]) => t === text);
    assert.ok(hits.length > nth, `no token ${JSON.stringify(text)} (#${nth}) in ${JSON.stringify(got)}`);
    return hits[nth][1];
  };
  const want = [
    ['# Every kind of token, for the grammar test.', 0, 'comment.line.number-sign.omp'],
    ['param', 0, 'keyword.other.declaration.omp'],
    ['n', 0, 'variable.other.declaration.omp'],
    ['3', 0, 'constant.numeric.omp'],
    ['\\t', 0, 'constant.character.escape.omp'],
    ['n', 1, 'variable.other.interpolated.omp'],
    ['pipeline', 0, 'keyword.other.declaration.omp'],
    ['main', 0, 'variable.other.declaration.omp'],
    ['let', 0, 'keyword.other.declaration.omp'],
    ['prep', 0, 'variable.other.declaration.omp'],
    ['echo', 0, 'entity.name.type.kind.omp'],
    ['prep', 1, 'entity.name.function.task.omp'],
    ['sleep', 0, 'variable.parameter.omp'],
    ['1s', 0, 'string.quoted.double.omp'],
    ['@gpu', 0, 'entity.name.tag.label.omp'],
    ['with', 0, 'keyword.control.omp'],
    ['retries', 0, 'variable.parameter.omp'],
    ['1h30m', 0, 'constant.numeric.duration.omp'],
    ['parallel', 0, 'keyword.control.block.omp'],
    ['<', 0, 'punctuation.section.block.omp'],
    ['for', 0, 'keyword.other.declaration.omp'],
    ['i', 2, 'variable.other.declaration.omp'],
    ['in', 0, 'keyword.control.omp'],
    ['..', 0, 'keyword.operator.range.omp'],
    ['->', 0, 'keyword.operator.arrow.omp'],
    ['data-prep/clean', 0, 'entity.name.type.kind.omp'],
    ['x', 0, 'entity.name.function.task.omp'],
    ['run', 0, 'entity.name.function.action.omp'],
    ['-2.5e3', 0, 'constant.numeric.omp'],
    ['true', 0, 'constant.language.omp'],
    ['reduce', 0, 'keyword.control.omp'],
  ];
  const wrong = [];
  for (const [text, nth, scope] of want) {
    const s = scopeOf(text, nth);
    if (s !== scope) wrong.push(`${JSON.stringify(text)} #${nth}: ${s}, want ${scope}`);
  }
  assert.deepStrictEqual(wrong, []);
});

test('package.json contributes the grammar and the language configuration', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const [lang] = pkg.contributes.languages;
  assert.strictEqual(lang.id, 'omp');
  assert.deepStrictEqual(lang.extensions, ['.omp']);
  assert.ok(fs.existsSync(path.join(root, lang.configuration)));
  const [grammar] = pkg.contributes.grammars;
  assert.strictEqual(grammar.scopeName, 'source.omp');
  assert.ok(fs.existsSync(path.join(root, grammar.path)));
  assert.ok(fs.existsSync(path.join(root, pkg.main)));
});
