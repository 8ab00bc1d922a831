// The part of cli-progress 3.12 gmnas uses (the package ships no types).
declare module 'cli-progress' {
  interface Options {
    format?: string;
    stream?: NodeJS.WritableStream;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    stopOnComplete?: boolean;
    barsize?: number;
    autopadding?: boolean;
    noTTYOutput?: boolean;
    fps?: number;
  }
  class SingleBar {
    update(value: number, payload?: Record<string, unknown>): void;
    setTotal(total: number): void;
    stop(): void;
  }
  class MultiBar {
    constructor(options: Options, preset?: unknown);
    create(total: number, start: number, payload?: Record<string, unknown>): SingleBar;
    remove(bar: SingleBar): boolean;
    log(text: string): void;
    stop(): void;
  }
  const Presets: { shades_classic: unknown; shades_grey: unknown; legacy: unknown; rect: unknown };
  const _default: { MultiBar: typeof MultiBar; SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default _default;
}
