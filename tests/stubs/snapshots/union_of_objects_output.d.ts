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
/**
 * Each method calls one tool and returns a Promise. A tool error rejects it with an Error carrying the tool's message.
 */
declare const codemode: {
  /** Read a media file. */
  read_media(input: ReadMediaInput): Promise<ReadMediaOutput>;
};
