// The base of every wrapper of an engine (Embind) object: its handle, freed once by dispose().
import { KyutaiError } from './errors.js';

export class Disposable {
  #handle;
  constructor(handle) {
    this.#handle = handle;
  }
  get handle() {
    if (!this.#handle) throw new KyutaiError(`${this.constructor.name} was disposed`, 'INVALID_STATE');
    return this.#handle;
  }
  get disposed() {
    return !this.#handle;
  }
  dispose() {
    if (this.#handle) {
      this.#handle.delete();
      this.#handle = null;
    }
  }
}
