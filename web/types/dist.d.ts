// `kyutai-wasm/dist/kyutai[-mt][-relaxed].mjs`: the Emscripten module factories of the four
// engine builds (createEngine loads the right one; import one directly only to pin a build).

/** Options of an Emscripten module factory (the ones the package uses). */
export interface ModuleOptions {
  /** Where the module's .wasm (and pthread worker) are: file name -> URL. */
  locateFile?: (file: string, scriptDirectory: string) => string;
  /** Where the pthread workers import the module from. */
  mainScriptUrlOrBlob?: string;
  [option: string]: unknown;
}

/** The instantiated module: its heap and the Embind classes createEngine wraps. */
export interface KyutaiModule {
  readonly HEAPU8: Uint8Array;
  [member: string]: unknown;
}

declare function createKyutaiModule(options?: ModuleOptions): Promise<KyutaiModule>;
export default createKyutaiModule;
