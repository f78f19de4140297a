// The omp extension: highlighting comes from the TextMate grammar in
// syntaxes/; everything else from `omp lsp`, which this starts for the
// workspace and talks to on its standard input and output.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

async function activate(context) {
  const config = vscode.workspace.getConfiguration('omp');
  const env = { ...process.env };
  const pluginPath = config.get('pluginPath');
  if (pluginPath) {
    env.OMP_PLUGIN_PATH = pluginPath;
  }
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const server = {
    command: config.get('path') || 'omp',
    args: ['lsp'],
    transport: TransportKind.stdio,
    // Plugins in ./plugins/bin are found from the workspace, as omp run
    // finds them from where it runs.
    options: { env, cwd },
  };
  client = new LanguageClient('omp', 'omp language server', server, {
    documentSelector: [
      { scheme: 'file', language: 'omp' },
      { scheme: 'untitled', language: 'omp' },
    ],
  });
  try {
    await client.start();
  } catch (err) {
    vscode.window.showErrorMessage(
      `omp: could not start "${server.command} lsp" (${err.message}); set omp.path to the omp executable.`,
    );
    return;
  }
  context.subscriptions.push(client);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
