interface ReadMediaInput { path: string }
interface ReadMediaOutput {
  content: (
    | { type: "image"; data: string; mimeType: string }
    | {
        type: "resource";
        resource: { /** @format uri */ uri: string; text?: string };
      }
  )[];
}
/** A tool error rejects with an Error holding the tool's message. */
declare const codemode: {
  /** Read a media file. */
  read_media(input: ReadMediaInput): Promise<ReadMediaOutput>;
};
