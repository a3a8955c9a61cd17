/**
 * The action's one door to the job's log. Every line the action prints — claude's
 * progress, the runner's news, warnings and the failure message — is neutralised
 * (see log/untrusted.ts): text the agent controls can never start a workflow command
 * (`::add-mask::`, `::save-state …::`, `::stop-commands::`, `##[…]`) or carry a raw CR
 * or ESC, so the outputs, the saved state and the masks are only ever the action's own.
 * The action's own commands (outputs, state, groups, masks) go to files or come from
 * @actions/core with fixed names, never through these lines.
 */
import type { Log } from "../log/log.js";
import { neutralise } from "../log/untrusted.js";
import type { Toolkit } from "./toolkit.js";

export function safeToolkit(core: Toolkit): Toolkit {
  return {
    getInput: (name) => core.getInput(name),
    setOutput: (name, value) => core.setOutput(name, value),
    setFailed: (message) => core.setFailed(neutralise(message)),
    setSecret: (secret) => core.setSecret(secret),
    info: (message) => core.info(neutralise(message)),
    warning: (message) => core.warning(neutralise(message)),
    saveState: (name, value) => core.saveState(name, value),
    getState: (name) => core.getState(name),
    group: (name, fn) => core.group(neutralise(name), fn),
    summary: core.summary,
  };
}

export function actionLog(core: Toolkit): Log {
  return { info: (line) => core.info(line), warn: (line) => core.warning(line), progress: (line) => core.info(line) };
}
