// Browser classes where the DOM lib is loaded; in a Node project without it they are `never`
// (those members are browser-only), so these declarations compile in both. Internal to the
// declarations: index.d.ts does not re-export them.

export type DomClass<K extends string> = typeof globalThis extends { [P in K]: { prototype: infer T } } ? T : never;
export type DomAudioBuffer = DomClass<'AudioBuffer'>;
export type DomBaseAudioContext = DomClass<'BaseAudioContext'>;
export type DomAudioWorkletNode = DomClass<'AudioWorkletNode'>;
export type DomAudioNode = DomClass<'AudioNode'>;
export type DomMediaStream = DomClass<'MediaStream'>;
export type DomMediaTrackConstraints = DomClass<'MediaStreamTrack'> extends { applyConstraints(constraints?: infer C): unknown } ? C : never;
export type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };
