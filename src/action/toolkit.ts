/**
 * The slice of @actions/core the action uses, as an interface so the action's logic
 * takes it as an argument (and tests can read what it did).
 */

export interface Toolkit {
  getInput(name: string): string;
  setOutput(name: string, value: string): void;
  setFailed(message: string): void;
  setSecret(secret: string): void;
  info(message: string): void;
  warning(message: string): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  summary: { addRaw(text: string, addEol?: boolean): { write(): Promise<unknown> } };
}
