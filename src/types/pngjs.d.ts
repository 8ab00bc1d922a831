// The part of pngjs 7 gmnas uses (the package ships no types): synchronous decode to 8-bit RGBA.
declare module 'pngjs' {
  interface DecodedPng { width: number; height: number; data: Buffer }
  interface PngStatic {
    sync: {
      read(buffer: Buffer): DecodedPng;
      write(png: { width: number; height: number; data: Uint8Array | Buffer }): Buffer;
    };
  }
  const pngjs: { PNG: PngStatic };
  export default pngjs;
}
